"""Clearing a run's task instances (``POST /api/v1/dag-runs/{dag_id}/{run_id}/clear``), which
``dags test --resume`` and ``taskstate tasks clear`` use."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from taskstate.client.execution import ExecutionClient
from taskstate.client.public import PublicClient
from taskstate.contracts.scopes import TaskInstanceId
from taskstate.errors import NotFoundError

TASKS = [
    {"task_id": "a"},
    {"task_id": "b", "retries": 1},
    {"task_id": "c"},
]


@pytest.fixture
def public(api_server: Any) -> Iterator[PublicClient]:
    with api_server.public() as client:
        yield client


def _try(api_server: Any, public: PublicClient, ti_id: str, end: str) -> None:
    token = public.queue_task_instance(ti_id)["token"]
    client = ExecutionClient(api_server.url, token)
    try:
        client.start(ti_id, pid=1, hostname="h")
        client.set_state(TaskInstanceId(ti_id), "progress", b'"halfway"', None)
        client.finish(ti_id, end, "it broke" if end == "failed" else None, retry=False)
    finally:
        client.close()


@pytest.fixture
def ended(api_server: Any, public: PublicClient) -> dict[str, str]:
    """A failed run: a succeeded, b failed (no retry), c upstream_failed."""
    created = public.create_run({"dag_id": "d", "run_id": "r", "tasks": TASKS})
    ids = {ti["task_id"]: ti["id"] for ti in created["task_instances"]}
    _try(api_server, public, ids["a"], "success")
    _try(api_server, public, ids["b"], "failed")
    public.mark_upstream_failed(ids["c"])
    public.finish_run("d", "r", "failed")
    return ids


def _states(run: dict[str, Any]) -> dict[str, tuple[str, int, int]]:
    return {
        ti["task_id"]: (ti["state"], ti["try_number"], ti["max_tries"])
        for ti in run["task_instances"]
    }


def test_a_clear_schedules_what_did_not_end_well(
    public: PublicClient, ended: dict[str, str]
) -> None:
    b = public.get_task_instance(ended["b"])
    assert (b["state"], b["end_reason"]) == ("failed", "it broke")
    run = public.clear_run("d", "r")
    assert run["state"] == "running" and run["end_reason"] is None
    assert sorted(run["cleared"]) == sorted([ended["b"], ended["c"]])
    # b has had 1 try and gets its 1 retry again: up to try 1 + 1 + 1.
    assert _states(run) == {
        "a": ("success", 1, 0),
        "b": ("scheduled", 1, 2),
        "c": ("scheduled", 0, 0),
    }
    # Its task state is kept for its next try, which is try 2.
    assert public.get_task_state("d", "r", "b", "progress")["value"] == "halfway"
    assert public.queue_task_instance(ended["b"])["try_number"] == 2


def test_a_clear_of_named_tasks_may_discard_their_state(
    public: PublicClient, ended: dict[str, str]
) -> None:
    run = public.clear_run("d", "r", ["a"], keep_state=False)
    assert run["cleared"] == [ended["a"]]
    assert _states(run)["a"] == ("scheduled", 1, 1)
    assert _states(run)["b"][0] == "failed"
    assert public.list_task_state("d", "r", "a") == []
    assert [e["key"] for e in public.list_task_state("d", "r", "b")] == ["progress"]


def test_a_clear_names_only_tasks_of_the_run(public: PublicClient, ended: dict[str, str]) -> None:
    with pytest.raises(NotFoundError):
        public.clear_run("d", "r", ["nope"])
    with pytest.raises(NotFoundError):
        public.clear_run("d", "other")
    assert public.get_run("d", "r")["state"] == "failed"


def test_an_interrupted_run_ends_its_unfinished_instances(public: PublicClient) -> None:
    created = public.create_run({"dag_id": "d", "run_id": "i", "tasks": TASKS})
    a = created["task_instances"][0]["id"]
    public.queue_task_instance(a)
    run = public.finish_run("d", "i", "failed", "interrupted", end_unfinished=True)
    assert (run["state"], run["end_reason"]) == ("failed", "interrupted")
    tis = public.get_run("d", "i")["task_instances"]
    assert {(ti["state"], ti["end_reason"]) for ti in tis} == {("failed", "interrupted")}
