"""XComs over real HTTP: pushed by the token's running try, pulled within the token's own run
(one value per map index asked for, or every instance's that has one), listed on the public
API; the return value is the output."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import msgspec
import pytest

from taskstate.api.keys import client_api_key
from taskstate.api.server import EmbeddedServer
from taskstate.client.execution import ExecutionClient
from taskstate.client.public import PublicClient
from taskstate.errors import (
    ConflictError,
    InvalidKeyError,
    InvalidValueError,
    NotFoundError,
    PermissionDeniedError,
    ValueTooLargeError,
)

from .conftest import Attached, Run, error_of

Attach = Callable[..., Attached]

TASKS: list[dict[str, Any]] = [
    {"task_id": "push", "retries": 1},
    {"task_id": "pull"},
    *({"task_id": "fan", "map_index": i} for i in range(3)),
]


def values(texts: list[bytes | None]) -> list[Any]:
    return [None if t is None else msgspec.json.decode(t) for t in texts]


@pytest.fixture
def xrun(make_run: Callable[..., Run]) -> Run:
    return make_run(TASKS, dag_id="flow")


def fan_ids(run: Run) -> list[str]:
    return [ti["id"] for ti in run.task_instances if ti["task_id"] == "fan"]


def test_a_pushed_xcom_is_pulled_by_the_other_tasks_of_the_run(xrun: Run, attach: Attach) -> None:
    push, pull = attach(xrun.ti_id("push")), attach(xrun.ti_id("pull"))
    assert pull.client.pull_xcom("push", "rows") == []  # nothing yet: no instance has it
    assert pull.client.pull_xcom("push", "rows", [-1]) == [None]

    push.client.push_xcom(push.ti_id, "rows", b'{"n": [1, 2]}')
    push.client.push_xcom(push.ti_id, "a/b c", b'"spaced"')  # any state key will do
    assert values(pull.client.pull_xcom("push", "rows")) == [{"n": [1, 2]}]
    assert values(pull.client.pull_xcom("push", "rows", [-1, 0])) == [{"n": [1, 2]}, None]
    assert values(pull.client.pull_xcom("push", "a/b c")) == ["spaced"]
    # The own run, named explicitly, is the own run.
    own = pull.client.pull_xcom("push", "rows", dag_id="flow", run_id=xrun.run_id)
    assert values(own) == [{"n": [1, 2]}]

    push.client.push_xcom(push.ti_id, "rows", b"3")  # an upsert
    assert values(push.client.pull_xcom("push", "rows")) == [3]


def test_a_mapped_tasks_xcoms_come_in_map_index_order(xrun: Run, attach: Attach) -> None:
    first, second, third = (attach(ti_id) for ti_id in fan_ids(xrun))
    third.client.push_xcom(third.ti_id, "k", b'"c"')
    first.client.push_xcom(first.ti_id, "k", b'"a"')
    # The second instance pushed nothing: left out of the whole list, null where asked for.
    assert values(second.client.pull_xcom("fan", "k")) == ["a", "c"]
    assert values(second.client.pull_xcom("fan", "k", [2, 1, 0])) == ["c", None, "a"]


def test_null_is_an_xcom_value(xrun: Run, attach: Attach, public: PublicClient) -> None:
    push = attach(xrun.ti_id("push"))
    push.client.push_xcom(push.ti_id, "nothing", b"null")
    assert push.client.pull_xcom("push", "nothing") == [None]  # stored, unlike a missing one
    assert [(x["key"], x["value"]) for x in public.list_xcoms(push.ti_id)] == [("nothing", None)]


def test_the_return_value_xcom_is_the_output(
    xrun: Run, attach: Attach, public: PublicClient
) -> None:
    push = attach(xrun.ti_id("push"))
    push.client.push_xcom(push.ti_id, "return_value", b"[1, 2]")
    assert public.get_task_output("flow", xrun.run_id, "push") == [1, 2]
    push.client.set_task_output(push.ti_id, b'"returned"')
    assert values(push.client.pull_xcom("push", "return_value")) == ["returned"]


def test_the_public_api_lists_a_task_instances_xcoms(
    xrun: Run, attach: Attach, public: PublicClient
) -> None:
    push = attach(xrun.ti_id("push"))
    assert public.list_xcoms(push.ti_id) == []
    push.client.push_xcom(push.ti_id, "b", b'{"x": 1}')
    push.client.push_xcom(push.ti_id, "a", b"2")
    push.client.set_task_output(push.ti_id, b'"out"')
    listed = public.list_xcoms(push.ti_id)
    assert [(x["key"], x["value"]) for x in listed] == [
        ("a", 2),
        ("b", {"x": 1}),
        ("return_value", "out"),
    ]
    assert all(isinstance(x["updated_at"], str) for x in listed)
    with pytest.raises(NotFoundError):
        public.list_xcoms("no-such-ti")


def test_a_new_try_starts_without_the_last_tries_xcoms(xrun: Run, attach: Attach) -> None:
    first = attach(xrun.ti_id("push"))
    first.client.push_xcom(first.ti_id, "k", b"1")
    assert first.client.finish(first.ti_id, "failed", "boom") == "up_for_retry"
    second = attach(xrun.ti_id("push"))
    assert second.client.pull_xcom("push", "k") == []


def test_an_ended_try_cannot_push(xrun: Run, attach: Attach, raw: httpx.Client) -> None:
    pull = attach(xrun.ti_id("pull"))
    pull.client.push_xcom(pull.ti_id, "k", b'"read downstream"')
    assert pull.client.finish(pull.ti_id, "success") == "success"
    with pytest.raises(ConflictError, match="try 1 is success, not running"):
        pull.client.push_xcom(pull.ti_id, "k", b'"rewritten"')
    answer = raw.put(
        f"/execution/task-instances/{pull.ti_id}/xcoms/k", headers=pull.headers, json={"value": 2}
    )
    error_of(answer, 409, "stale_try")
    assert values(pull.client.pull_xcom("pull", "k")) == ["read downstream"]


def test_a_token_pushes_for_its_own_task_instance_only(xrun: Run, attach: Attach) -> None:
    push, pull = attach(xrun.ti_id("push")), attach(xrun.ti_id("pull"))
    with pytest.raises(PermissionDeniedError, match="another task instance"):
        pull.client.push_xcom(push.ti_id, "k", b"1")
    assert pull.client.pull_xcom("push", "k") == []


def test_a_token_pulls_from_its_own_run_only(
    make_run: Callable[..., Run], xrun: Run, attach: Attach
) -> None:
    other = make_run(TASKS, dag_id="flow")
    theirs = attach(other.ti_id("push"))
    theirs.client.push_xcom(theirs.ti_id, "k", b'"secret"')
    ours = attach(xrun.ti_id("pull"))
    with pytest.raises(PermissionDeniedError, match="cannot pull XComs of run"):
        ours.client.pull_xcom("push", "k", run_id=other.run_id)
    with pytest.raises(PermissionDeniedError):
        ours.client.pull_xcom("push", "k", dag_id="elsewhere")


@pytest.mark.parametrize(
    ("key", "error"),
    [("k" * 513, InvalidKeyError), ("new\nline", InvalidKeyError)],
)
def test_a_bad_key_is_refused(xrun: Run, attach: Attach, key: str, error: type[Exception]) -> None:
    push = attach(xrun.ti_id("push"))
    with pytest.raises(error):
        push.client.push_xcom(push.ti_id, key, b"1")
    with pytest.raises(error):
        push.client.pull_xcom("push", key)


@pytest.mark.parametrize(
    "body",
    [b'{"value": NaN}', b'{"value": [1,}', b"{}", b'{"value": "x"', b"[]"],
)
def test_a_bad_value_is_refused(xrun: Run, attach: Attach, raw: httpx.Client, body: bytes) -> None:
    push = attach(xrun.ti_id("push"))
    answer = raw.put(
        f"/execution/task-instances/{push.ti_id}/xcoms/k",
        headers={**push.headers, "content-type": "application/json"},
        content=body,
    )
    error_of(answer, 400, "invalid_value")
    assert push.client.pull_xcom("push", "k") == []


def test_a_value_over_max_value_bytes_is_refused(make_settings: Any) -> None:
    settings = make_settings(TASKSTATE__STATE_STORE__MAX_VALUE_BYTES="16")
    with (
        EmbeddedServer(settings) as server,
        PublicClient(server.url, client_api_key(settings)) as public,
    ):
        created = public.create_run({"dag_id": "d", "run_id": "r", "tasks": [{"task_id": "t"}]})
        ti_id = created["task_instances"][0]["id"]
        client = ExecutionClient(server.url, public.queue_task_instance(ti_id)["token"])
        try:
            client.start(ti_id, pid=1, hostname="h")
            with pytest.raises(ValueTooLargeError, match="over the limit of 16"):
                client.push_xcom(ti_id, "k", b'"' + b"x" * 20 + b'"')
            with pytest.raises(InvalidValueError):
                client.push_xcom(ti_id, "k", b"1e999")
            client.push_xcom(ti_id, "k", b'"' + b"x" * 14 + b'"')
        finally:
            client.close()
