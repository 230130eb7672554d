"""Retention and provenance through both APIs, over real HTTP: expiry times on the server's
clock, expired keys invisible to every read at once, bad retentions refused, and the writer of
every write named by the token's try or as ``api``."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import msgspec
import pytest

from taskstate.api.app import build_state
from taskstate.api.keys import client_api_key
from taskstate.api.server import EmbeddedServer
from taskstate.client.execution import ExecutionClient
from taskstate.client.public import PublicClient
from taskstate.contracts.scopes import AssetNamed, TaskInstanceId
from taskstate.errors import ConfigError, InvalidRetentionError, NotFoundError
from taskstate.sdk import NEVER_EXPIRE
from taskstate.state import BaseStateBackend, StateScope, StoredValue

from .conftest import ORDERS, Attached, Run, error_of

Attach = Callable[..., Attached]

BRIEF = 0.001
"""A retention (seconds) that is over by the time a test reads the key again."""


def expires(entry: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(entry["expires_at"])


def writer(run: Run, task_id: str, try_number: int, map_index: int = -1) -> dict[str, Any]:
    return {
        "dag_id": run.dag_id,
        "run_id": run.run_id,
        "task_id": task_id,
        "map_index": map_index,
        "try_number": try_number,
    }


def wait_out(retention: float) -> None:
    """Let a retention given in a request that has returned run out (the clock is the event)."""
    time.sleep(retention + 0.002)


def is_missing(body: Any) -> bool:
    return body.value is msgspec.UNSET and body.ref is None


@pytest.fixture
def load(run: Run, attach: Attach) -> Attached:
    return attach(run.ti_id("load"))


# -- expiry -------------------------------------------------------------------------------------


def test_a_retention_sets_the_expiry_on_the_servers_clock(
    run: Run, load: Attached, public: PublicClient
) -> None:
    before = datetime.now(UTC)
    load.client.set_state(TaskInstanceId(load.ti_id), "hour", b"1", None, retention=3600.0)
    load.client.set_state(AssetNamed("orders"), "day", b"2", None, retention=86_400)
    load.client.set_state(TaskInstanceId(load.ti_id), "ref", b"mem://r", "m.C", retention=60)
    load.client.set_state(TaskInstanceId(load.ti_id), "kept", b"3", None, retention="never")
    load.client.set_state(TaskInstanceId(load.ti_id), "default", b"4", None)
    public.set_asset_state("orders", "api", 5, retention=timedelta(minutes=5))
    after = datetime.now(UTC)

    listed = {e["key"]: e for e in public.list_task_state(run.dag_id, run.run_id, "load")}
    hour = timedelta(hours=1)
    assert before + hour <= expires(listed["hour"]) <= after + hour
    assert before + timedelta(seconds=60) <= expires(listed["ref"]) <= after + timedelta(seconds=60)
    assert listed["kept"]["expires_at"] is None
    assert listed["default"]["expires_at"] is None  # the server's default: never
    day = expires(public.get_asset_state("orders", "day"))
    assert before + timedelta(days=1) <= day <= after + timedelta(days=1)
    five = expires(public.get_asset_state("orders", "api"))
    assert before + timedelta(minutes=5) <= five <= after + timedelta(minutes=5)


def test_an_expired_key_is_invisible_to_every_read(
    run: Run, load: Attached, public: PublicClient
) -> None:
    load.client.set_state(TaskInstanceId(load.ti_id), "live", b'"here"', None)
    load.client.set_state(TaskInstanceId(load.ti_id), "brief", b'"gone"', None, retention=BRIEF)
    load.client.set_state(
        TaskInstanceId(load.ti_id), "brief_ref", b"mem://b", "m.C", retention=BRIEF
    )
    load.client.set_state(AssetNamed("orders"), "brief", b'"gone"', None, retention=BRIEF)
    public.set_task_state(
        run.dag_id, run.run_id, "load", "api_brief", 1, retention=timedelta(milliseconds=1)
    )
    wait_out(BRIEF)

    for key in ("brief", "brief_ref", "api_brief"):
        assert is_missing(load.client.get_state(TaskInstanceId(load.ti_id), key))
        with pytest.raises(NotFoundError):
            public.get_task_state(run.dag_id, run.run_id, "load", key)
    assert is_missing(load.client.get_state(AssetNamed("orders"), "brief"))
    with pytest.raises(NotFoundError):
        public.get_asset_state("orders", "brief")
    assert [e["key"] for e in public.list_task_state(run.dag_id, run.run_id, "load")] == ["live"]
    assert public.list_asset_state("orders") == []


def test_a_key_set_again_after_expiring_is_visible(load: Attached, public: PublicClient) -> None:
    load.client.set_state(AssetNamed("orders"), "k", b'"old"', None, retention=BRIEF)
    wait_out(BRIEF)
    load.client.set_state(AssetNamed("orders"), "k", b'"new"', None)
    got = public.get_asset_state("orders", "k")
    assert (got["value"], got["expires_at"]) == ("new", None)


def test_the_server_default_applies_to_writes_without_a_retention(
    make_settings: Callable[..., Any],
) -> None:
    settings = make_settings(TASKSTATE__STATE_STORE__DEFAULT_RETENTION_DAYS="2")
    with (
        EmbeddedServer(settings) as server,
        PublicClient(server.url, client_api_key(settings)) as public,
    ):
        created = public.create_run(
            {"dag_id": "d", "run_id": "r", "tasks": [{"task_id": "t", "inlets": [ORDERS]}]}
        )
        ti_id = created["task_instances"][0]["id"]
        client = ExecutionClient(server.url, public.queue_task_instance(ti_id)["token"])
        try:
            before = datetime.now(UTC)
            client.set_state(TaskInstanceId(ti_id), "default", b"1", None)
            client.set_state(TaskInstanceId(ti_id), "never", b"1", None, retention="never")
            client.set_state(TaskInstanceId(ti_id), "hour", b"1", None, retention=3600)
            public.set_asset_state("orders", "default", 1)
            public.set_asset_state("orders", "never", 1, retention=NEVER_EXPIRE)
            after = datetime.now(UTC)
        finally:
            client.close()
        listed = {e["key"]: e for e in public.list_task_state("d", "r", "t")}
        two_days = timedelta(days=2)
        assert before + two_days <= expires(listed["default"]) <= after + two_days
        assert listed["never"]["expires_at"] is None
        assert expires(listed["hour"]) <= after + timedelta(hours=1)
        asset = {e["key"]: e for e in public.list_asset_state("orders")}
        assert before + two_days <= expires(asset["default"]) <= after + two_days
        assert asset["never"]["expires_at"] is None


# -- bad retentions -------------------------------------------------------------------------------


BAD = [0, -1, 0.0, "forever", "3600", True, [], {"seconds": 1}, 1e300]


@pytest.mark.parametrize("retention", BAD, ids=[repr(b) for b in BAD])
def test_a_bad_retention_is_refused_and_changes_nothing(
    retention: Any,
    run: Run,
    load: Attached,
    raw: httpx.Client,
    api_headers: dict[str, str],
    public: PublicClient,
) -> None:
    load.client.set_state(TaskInstanceId(load.ti_id), "k", b'"kept"', None)
    bodies = [
        {"value": "new", "retention": retention},
        {"ref": "mem://x", "backend": "m.C", "retention": retention},
    ]
    for body in bodies:
        answer = raw.put(f"/execution/state/ti/{load.ti_id}/k", headers=load.headers, json=body)
        error_of(answer, 400, "invalid_retention")
        answer = raw.put("/execution/state/asset/k?name=orders", headers=load.headers, json=body)
        error_of(answer, 400, "invalid_retention")
    params = {"dag_id": run.dag_id, "run_id": run.run_id, "task_id": "load"}
    answer = raw.put("/api/v1/task-state/k", params=params, headers=api_headers, json=bodies[0])
    error_of(answer, 400, "invalid_retention")
    answer = raw.put(
        "/api/v1/asset-state/k", params={"name": "orders"}, headers=api_headers, json=bodies[0]
    )
    error_of(answer, 400, "invalid_retention")
    assert public.get_task_state(run.dag_id, run.run_id, "load", "k")["value"] == "kept"
    with pytest.raises(NotFoundError):
        public.get_asset_state("orders", "k")


@pytest.mark.parametrize("retention", [timedelta(0), timedelta(days=-1), 3600, "never"])
def test_the_public_client_refuses_a_bad_retention_itself(
    retention: Any, run: Run, public: PublicClient
) -> None:
    with pytest.raises(InvalidRetentionError):
        public.set_task_state(run.dag_id, run.run_id, "load", "k", 1, retention=retention)
    with pytest.raises(InvalidRetentionError):
        public.set_asset_state("orders", "k", 1, retention=retention)
    assert public.list_asset_state("orders") == []


class UnexpiringBackend(BaseStateBackend):
    """A server-side backend written before retention: it keeps ``delete_expired``'s default."""

    def __init__(self, **_: Any) -> None:
        self.values: dict[tuple[StateScope, str], StoredValue] = {}

    def get(self, scope: StateScope, key: str, *, session: Any = None) -> StoredValue | None:
        return self.values.get((scope, key))

    def set(self, scope: StateScope, key: str, value: StoredValue, *, session: Any = None) -> None:
        self.values[scope, key] = value

    def delete(self, scope: StateScope, key: str, *, session: Any = None) -> StoredValue | None:
        return self.values.pop((scope, key), None)

    def clear(
        self, scope: StateScope, *, all_map_indices: bool = False, session: Any = None
    ) -> list[StoredValue]:
        raise NotImplementedError

    async def aget(self, scope: StateScope, key: str, *, session: Any = None) -> StoredValue | None:
        return self.get(scope, key)

    async def aset(
        self, scope: StateScope, key: str, value: StoredValue, *, session: Any = None
    ) -> None:
        self.set(scope, key, value)

    async def adelete(
        self, scope: StateScope, key: str, *, session: Any = None
    ) -> StoredValue | None:
        return self.delete(scope, key)

    async def aclear(
        self, scope: StateScope, *, all_map_indices: bool = False, session: Any = None
    ) -> list[StoredValue]:
        raise NotImplementedError


def test_a_backend_that_cannot_expire_keys_refuses_retentions(
    make_settings: Callable[..., Any],
) -> None:
    settings = make_settings(TASKSTATE__STATE_STORE__BACKEND=f"{__name__}.UnexpiringBackend")
    with (
        EmbeddedServer(settings) as server,
        PublicClient(server.url, client_api_key(settings)) as public,
    ):
        public.create_run({"dag_id": "d", "run_id": "r", "tasks": [{"task_id": "t"}]})
        public.set_task_state("d", "r", "t", "k", "kept")
        with pytest.raises(InvalidRetentionError, match="UnexpiringBackend cannot expire keys"):
            public.set_task_state("d", "r", "t", "k", "new", retention=timedelta(hours=1))
        with pytest.raises(InvalidRetentionError, match="cannot expire keys"):
            public.set_task_state("d", "r", "t", "other", 1, retention=timedelta(hours=1))
        assert public.get_task_state("d", "r", "t", "k")["value"] == "kept"
        with pytest.raises(NotFoundError):
            public.get_task_state("d", "r", "t", "other")
        # NEVER_EXPIRE asks for nothing the backend cannot do.
        public.set_task_state("d", "r", "t", "k", "forever", retention=NEVER_EXPIRE)
        assert public.get_task_state("d", "r", "t", "k")["value"] == "forever"


def test_a_default_retention_needs_a_backend_that_can_expire_keys(
    make_settings: Callable[..., Any],
) -> None:
    settings = make_settings(
        TASKSTATE__STATE_STORE__BACKEND=f"{__name__}.UnexpiringBackend",
        TASKSTATE__STATE_STORE__DEFAULT_RETENTION_DAYS="1",
    )
    with pytest.raises(ConfigError, match=r"default_retention_days is set, but the state backend"):
        build_state(settings)


# -- provenance -----------------------------------------------------------------------------------


def test_every_write_names_the_try_that_made_it(
    run: Run, attach: Attach, public: PublicClient
) -> None:
    ti_id = run.ti_id("submit")
    first = attach(ti_id)
    first.client.set_state(TaskInstanceId(ti_id), "job_id", b'"job-1"', None)
    first.client.set_token(first.client.heartbeat(ti_id).token)  # a renewed token, same try
    first.client.set_state(TaskInstanceId(ti_id), "after_heartbeat", b"1", None)
    first.client.set_state(TaskInstanceId(ti_id), "rewritten", b"1", None)
    assert first.client.finish(ti_id, "failed") == "up_for_retry"
    second = attach(ti_id)
    second.client.set_state(TaskInstanceId(ti_id), "rewritten", b"2", None)
    second.client.set_state(TaskInstanceId(ti_id), "ref", b"mem://r", "m.C")
    public.set_task_state(run.dag_id, run.run_id, "submit", "by_person", "note")

    listed = {e["key"]: e["written_by"] for e in public.list_task_state(run.dag_id, run.run_id)}
    assert listed == {
        "job_id": writer(run, "submit", 1),
        "after_heartbeat": writer(run, "submit", 1),
        "rewritten": writer(run, "submit", 2),
        "ref": writer(run, "submit", 2),
        "by_person": "api",
    }
    got = public.get_task_state(run.dag_id, run.run_id, "submit", "job_id")
    assert got["written_by"] == writer(run, "submit", 1)


def test_asset_state_names_its_last_writer_across_tasks_and_runs(
    make_run: Callable[..., Run], attach: Attach, public: PublicClient
) -> None:
    first, second = make_run(), make_run()
    one = attach(first.ti_id("load"))
    one.client.set_state(AssetNamed("orders"), "watermark", b'"2026-01-01"', None)
    assert public.get_asset_state("orders", "watermark")["written_by"] == writer(first, "load", 1)
    two = attach(second.ti_id("load"))
    two.client.set_state(AssetNamed("orders"), "watermark", b'"2026-01-02"', None)
    (entry,) = public.list_asset_state("orders")
    assert entry["written_by"] == writer(second, "load", 1)
    public.set_asset_state("orders", "watermark", "2026-01-03")
    assert public.get_asset_state("orders", "watermark")["written_by"] == "api"


def test_a_mapped_writer_names_its_map_index(
    make_run: Callable[..., Run], attach: Attach, public: PublicClient
) -> None:
    run = make_run([{"task_id": "fan", "map_index": i, "inlets": [ORDERS]} for i in range(2)])
    ti = attach(run.task_instances[1]["id"])
    ti.client.set_state(AssetNamed("orders"), "part", b"1", None)
    ti.client.set_state(TaskInstanceId(ti.ti_id), "part", b"1", None)
    assert public.get_asset_state("orders", "part")["written_by"] == writer(run, "fan", 1, 1)
    (entry,) = public.list_task_state(run.dag_id, run.run_id, "fan", 1)
    assert entry["written_by"] == writer(run, "fan", 1, 1)
