"""Fencing: once a try has ended, or a later try of its task instance has been queued, the
earlier try's token changes nothing, refused with StaleTryError (409 ``stale_try``)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
import redis

from taskstate.api.keys import client_api_key
from taskstate.api.server import EmbeddedServer
from taskstate.client.execution import ExecutionClient
from taskstate.client.public import PublicClient
from taskstate.config import Settings
from taskstate.contracts.scopes import AssetNamed, TaskInstanceId
from taskstate.errors import StaleTryError
from taskstate.testing.redis import available_server_url, temporary_prefix

from .conftest import Attached, Run, error_of

Attach = Callable[..., Attached]


def _value(public: PublicClient, run: Run, task_id: str, key: str) -> Any:
    return public.get_task_state(run.dag_id, run.run_id, task_id, key)["value"]


def test_a_first_try_token_changes_nothing_after_the_second_try_started(
    run: Run, attach: Attach, public: PublicClient, raw: httpx.Client
) -> None:
    ti_id = run.ti_id("submit")
    first = attach(ti_id)
    scope = TaskInstanceId(ti_id)
    first.client.set_state(scope, "k", b'"try 1"', None)
    # Try 1 fails and try 2 starts; try 1's token is still within its lifetime.
    assert first.client.finish(ti_id, "failed") == "up_for_retry"
    second = attach(ti_id)
    second.client.set_state(scope, "k", b'"try 2"', None)

    with pytest.raises(StaleTryError) as caught:
        first.client.set_state(scope, "k", b'"stale"', None)
    assert caught.value.detail["token_try_number"] == 1
    with pytest.raises(StaleTryError):
        first.client.delete_state(scope, "k")
    with pytest.raises(StaleTryError):
        first.client.clear_state(scope)
    with pytest.raises(StaleTryError):
        first.client.heartbeat(ti_id)
    with pytest.raises(StaleTryError):
        first.client.finish(ti_id, "success")
    # The same over raw HTTP: 409 with its code.
    put = raw.put(f"/execution/state/ti/{ti_id}/k", headers=first.headers, json={"value": 1})
    error_of(put, 409, "stale_try")

    assert _value(public, run, "submit", "k") == "try 2"
    assert public.get_task_instance(ti_id)["state"] == "running"
    assert second.client.finish(ti_id, "success") == "success"


def test_a_finished_try_can_neither_write_nor_renew_its_token(
    run: Run, attach: Attach, public: PublicClient
) -> None:
    load = attach(run.ti_id("load"))
    load.client.set_state(AssetNamed("orders"), "w", b"1", None)
    assert load.client.finish(load.ti_id, "success") == "success"

    with pytest.raises(StaleTryError):
        load.client.heartbeat(load.ti_id)
    with pytest.raises(StaleTryError):
        load.client.set_state(AssetNamed("orders"), "w", b"2", None)
    with pytest.raises(StaleTryError):
        load.client.set_state(TaskInstanceId(load.ti_id), "k", b"2", None)
    with pytest.raises(StaleTryError):
        load.client.finish(load.ti_id, "failed")
    assert public.get_asset_state("orders", "w")["value"] == 1
    assert public.get_task_instance(load.ti_id)["state"] == "success"


def test_a_try_one_token_cannot_overwrite_what_try_two_left_after_it_succeeded(
    run: Run, attach: Attach, public: PublicClient
) -> None:
    ti_id = run.ti_id("submit")
    first = attach(ti_id)
    first.client.finish(ti_id, "failed")
    second = attach(ti_id)
    second.client.set_state(TaskInstanceId(ti_id), "result", b'"from try 2"', None)
    assert second.client.finish(ti_id, "success") == "success"
    with pytest.raises(StaleTryError):
        first.client.set_state(TaskInstanceId(ti_id), "result", b'"from try 1"', None)
    assert _value(public, run, "submit", "result") == "from try 2"


def test_the_running_try_renews_its_token_and_writes(run: Run, attach: Attach) -> None:
    ti = attach(run.ti_id("audit"))
    beat = ti.client.heartbeat(ti.ti_id)
    assert beat.state == "running"
    ti.client.set_token(beat.token)
    assert ti.client.set_state(TaskInstanceId(ti.ti_id), "k", b"1", None) > 0


def test_a_stale_try_is_refused_in_the_statement_even_for_a_missing_key(
    run: Run, attach: Attach, public: PublicClient
) -> None:
    # A delete of a key that does not exist changes nothing either way, but the stale try
    # still learns it is stale rather than hearing "nothing to delete".
    ti = attach(run.ti_id("audit"))
    ti.client.finish(ti.ti_id, "success")
    with pytest.raises(StaleTryError):
        ti.client.delete_state(TaskInstanceId(ti.ti_id), "never-set")
    assert StaleTryError.status == 409 and StaleTryError.code == "stale_try"


# -- Redis: its scripts check the try ---------------------------------------------------------


@pytest.mark.redis
def test_redis_fences_tries_and_a_deleted_run_leaves_no_state(
    make_settings: Callable[..., Settings],
) -> None:
    url = available_server_url()
    with temporary_prefix(url) as prefix:
        settings = make_settings(
            TASKSTATE__STATE_STORE__BACKEND="redis",
            TASKSTATE__STATE_STORE__BACKEND_KWARGS=json.dumps(
                {"url": url, "prefix": prefix, "allow_volatile": True}
            ),
        )
        with (
            EmbeddedServer(settings) as server,
            PublicClient(server.url, client_api_key(settings)) as public,
        ):
            tasks = [{"task_id": "t", "retries": 1, "outlets": [{"name": "o", "uri": "s3://o"}]}]
            created = public.create_run({"dag_id": "d", "run_id": "r", "tasks": tasks})
            ti_id = created["task_instances"][0]["id"]
            scope = TaskInstanceId(ti_id)

            def attach() -> ExecutionClient:
                client = ExecutionClient(server.url, public.queue_task_instance(ti_id)["token"])
                client.start(ti_id, pid=1, hostname="h")
                return client

            first = attach()
            first.set_state(scope, "k", b'"try 1"', None)
            assert first.finish(ti_id, "failed") == "up_for_retry"
            second = attach()
            assert second.set_state(scope, "k", b'"try 2"', None) > 0
            for write in (
                lambda: first.set_state(scope, "k", b'"stale"', None),
                lambda: first.set_state(AssetNamed("o"), "k", b'"stale"', None),
                lambda: first.delete_state(scope, "k"),
                lambda: first.clear_state(scope),
            ):
                with pytest.raises(StaleTryError):
                    write()
            assert public.get_task_state("d", "r", "t", "k")["value"] == "try 2"

            # A forced deletion ends the running try first: nothing it writes lands after.
            public.delete_run("d", "r", force=True)
            with pytest.raises(StaleTryError):
                second.set_state(scope, "late", b"1", None)
            first.close()
            second.close()
        raw = redis.Redis.from_url(url, decode_responses=True)
        try:
            task_keys = list(raw.scan_iter(f"{prefix}:task:*"))
        finally:
            raw.close()
        assert task_keys == []
