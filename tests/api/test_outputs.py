"""Task outputs over real HTTP: stored for the token's own task instance, read within the
token's own run (a mapped task's as the list of its instances' outputs), refused elsewhere."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import httpx
import msgspec
import pytest

from taskstate.api.keys import client_api_key
from taskstate.api.server import EmbeddedServer
from taskstate.client.execution import ExecutionClient
from taskstate.client.public import PublicClient
from taskstate.contracts.http import OutputBody
from taskstate.errors import (
    ConflictError,
    InvalidValueError,
    NotFoundError,
    PermissionDeniedError,
    ValueTooLargeError,
)

from .conftest import Attached, Run, error_of

Attach = Callable[..., Attached]

TASKS: list[dict[str, Any]] = [
    {"task_id": "extract", "retries": 1},
    {"task_id": "load"},
    *({"task_id": "fan", "map_index": i} for i in range(3)),
]


def output_of(body: OutputBody) -> Any:
    return None if body.value is msgspec.UNSET else msgspec.json.decode(body.value)


@pytest.fixture
def outputs_run(make_run: Callable[..., Run]) -> Run:
    return make_run(TASKS, dag_id="flow")


def fan_ids(run: Run) -> list[str]:
    return [ti["id"] for ti in run.task_instances if ti["task_id"] == "fan"]


def test_an_output_is_read_by_the_other_tasks_of_the_run(
    outputs_run: Run, attach: Attach, public: PublicClient
) -> None:
    extract = attach(outputs_run.ti_id("extract"))
    load = attach(outputs_run.ti_id("load"))
    run_id = outputs_run.run_id
    assert output_of(load.client.get_task_output("flow", run_id, "extract")) is None

    extract.client.set_task_output(extract.ti_id, b'{"rows": [1, 2], "x": null}')
    expected = {"rows": [1, 2], "x": None}
    assert output_of(load.client.get_task_output("flow", run_id, "extract")) == expected
    assert output_of(extract.client.get_task_output("flow", run_id, "extract")) == expected
    assert public.get_task_output("flow", run_id, "extract") == expected

    extract.client.set_task_output(extract.ti_id, b"[3]")  # an upsert
    assert output_of(load.client.get_task_output("flow", run_id, "extract")) == [3]


def test_a_mapped_output_is_the_list_of_its_instances_outputs(
    outputs_run: Run, attach: Attach, public: PublicClient
) -> None:
    first, _, third = (attach(ti_id) for ti_id in fan_ids(outputs_run))
    first.client.set_task_output(first.ti_id, b'"a"')
    third.client.set_task_output(third.ti_id, b'{"c": 3}')
    # The second instance returned nothing: null in its place, the list keeps map_index order.
    got = first.client.get_task_output("flow", outputs_run.run_id, "fan")
    assert output_of(got) == ["a", None, {"c": 3}]
    assert public.get_task_output("flow", outputs_run.run_id, "fan") == ["a", None, {"c": 3}]


def test_a_new_try_starts_without_the_last_tries_output(
    outputs_run: Run, attach: Attach, public: PublicClient
) -> None:
    first = attach(outputs_run.ti_id("extract"))
    first.client.set_task_output(first.ti_id, b"1")
    assert first.client.finish(first.ti_id, "failed", "boom") == "up_for_retry"
    second = attach(outputs_run.ti_id("extract"))
    assert public.get_task_output("flow", outputs_run.run_id, "extract") is None
    second.client.set_task_output(second.ti_id, b"2")
    assert public.get_task_output("flow", outputs_run.run_id, "extract") == 2


def test_an_ended_try_cannot_change_its_output(
    outputs_run: Run, attach: Attach, public: PublicClient, raw: httpx.Client
) -> None:
    load = attach(outputs_run.ti_id("load"))
    load.client.set_task_output(load.ti_id, b'"read downstream"')
    assert load.client.finish(load.ti_id, "success") == "success"

    with pytest.raises(ConflictError, match="try 1 is success, not running") as caught:
        load.client.set_task_output(load.ti_id, b'"rewritten"')
    assert f"flow/{outputs_run.run_id}/load ({load.ti_id})" in str(caught.value)
    assert caught.value.detail == {
        "ti_id": load.ti_id,
        "state": "success",
        "try_number": 1,
        "token_try_number": 1,
    }
    answer = raw.put(f"/execution/outputs/ti/{load.ti_id}", headers=load.headers, json={"value": 2})
    error_of(answer, 409, "stale_try")
    assert public.get_task_output("flow", outputs_run.run_id, "load") == "read downstream"


def test_an_earlier_tries_token_cannot_write_the_output_of_a_later_try(
    outputs_run: Run, attach: Attach, public: PublicClient
) -> None:
    first = attach(outputs_run.ti_id("extract"))
    assert first.client.finish(first.ti_id, "failed", "boom") == "up_for_retry"
    second = attach(outputs_run.ti_id("extract"))
    second.client.set_task_output(second.ti_id, b'"second"')

    with pytest.raises(ConflictError, match="try 1 is over; the instance is running on try 2"):
        first.client.set_task_output(first.ti_id, b'"first"')
    assert public.get_task_output("flow", outputs_run.run_id, "extract") == "second"


def test_an_output_for_a_deleted_runs_task_instance_is_not_found(
    outputs_run: Run, attach: Attach, public: PublicClient, raw: httpx.Client
) -> None:
    load = attach(outputs_run.ti_id("load"))
    public.delete_run("flow", outputs_run.run_id, force=True)

    with pytest.raises(NotFoundError, match=f"no task instance '{load.ti_id}'"):
        load.client.set_task_output(load.ti_id, b"1")
    answer = raw.put(f"/execution/outputs/ti/{load.ti_id}", headers=load.headers, json={"value": 1})
    error_of(answer, 404, "not_found")


def test_outputs_of_another_run_are_refused(
    outputs_run: Run, make_run: Callable[..., Run], attach: Attach, raw: httpx.Client
) -> None:
    other = make_run(TASKS, dag_id="flow")
    theirs = attach(other.ti_id("extract"))
    theirs.client.set_task_output(theirs.ti_id, b'"secret"')
    ours = attach(outputs_run.ti_id("load"))

    with pytest.raises(PermissionDeniedError, match="cannot read outputs of run") as caught:
        ours.client.get_task_output("flow", other.run_id, "extract")
    assert caught.value.detail == {"dag_id": "flow", "run_id": other.run_id, "task_id": "extract"}
    with pytest.raises(PermissionDeniedError):
        ours.client.get_task_output("other_dag", outputs_run.run_id, "extract")
    answer = raw.get(f"/execution/outputs/flow/{other.run_id}/extract", headers=ours.headers)
    error_of(answer, 403, "permission_denied")
    # Nor may a task instance write another instance's output.
    answer = raw.put(
        f"/execution/outputs/ti/{theirs.ti_id}", headers=ours.headers, json={"value": 1}
    )
    error_of(answer, 403, "permission_denied")
    assert output_of(theirs.client.get_task_output("flow", other.run_id, "extract")) == "secret"


def test_bad_outputs_and_unknown_tasks(outputs_run: Run, attach: Attach, raw: httpx.Client) -> None:
    extract = attach(outputs_run.ti_id("extract"))
    path = f"/execution/outputs/ti/{extract.ti_id}"
    for body, message in (
        (b'{"value": NaN}', "malformed output body"),
        (b"{}", "must hold a value"),
        (b'{"value": null}', "None cannot be stored"),
        (b"[1", "malformed output body"),
    ):
        answer = raw.put(path, headers=extract.headers, content=body)
        assert message in error_of(answer, 400, "invalid_value")["message"]
    with pytest.raises(InvalidValueError):
        extract.client.set_task_output(extract.ti_id, b"{1: 2}")
    with pytest.raises(NotFoundError, match="has no task 'nope'"):
        extract.client.get_task_output("flow", outputs_run.run_id, "nope")
    error_of(
        raw.get(f"/execution/outputs/flow/{outputs_run.run_id}/extract"), 401, "not_authenticated"
    )
    assert output_of(extract.client.get_task_output("flow", outputs_run.run_id, "extract")) is None


def test_an_output_is_bounded_by_max_value_bytes(make_settings: Any) -> None:
    settings = make_settings(TASKSTATE__STATE_STORE__MAX_VALUE_BYTES="16")
    with (
        EmbeddedServer(settings) as server,
        PublicClient(server.url, client_api_key(settings)) as public,
    ):
        created = public.create_run({"dag_id": "d", "run_id": "r", "tasks": [{"task_id": "t"}]})
        ti_id = created["task_instances"][0]["id"]
        client = ExecutionClient(server.url, public.queue_task_instance(ti_id)["token"])
        try:
            client.start(ti_id, pid=os.getpid(), hostname="test-host")
            client.set_task_output(ti_id, b'"' + b"x" * 14 + b'"')  # 16 bytes: at the limit
            with pytest.raises(ValueTooLargeError) as caught:
                client.set_task_output(ti_id, b'"' + b"x" * 15 + b'"')
            assert caught.value.detail == {"size": 17, "limit": 16}
            assert public.get_task_output("d", "r", "t") == "x" * 14
        finally:
            client.close()
