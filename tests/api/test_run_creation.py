"""Runs created and deleted in batches: whole when seen, invisible while being created."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from taskstate.api import runs
from taskstate.api.app import AppState, build_state, in_transaction
from taskstate.api.run_creation import (
    BATCH_SIZE,
    NewRun,
    create_run_in_steps,
    delete_task_instances,
)
from taskstate.api.runs import AssetSpec, TaskSpec
from taskstate.config import Settings
from taskstate.db.models import DagRunState, TaskInstance, TaskInstanceAsset
from taskstate.errors import ConflictError, NotFoundError, UsageError

COUNT = 2 * BATCH_SIZE + 500


@pytest.fixture
def state(settings: Settings) -> Iterator[AppState]:
    built = build_state(settings)
    yield built
    asyncio.run(built.database.adispose())


def _count(state: AppState, dag_id: str, run_id: str) -> int:
    query = select(func.count()).where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id)
    with state.database.session_factory() as session:
        return int(session.scalar(query) or 0)


def test_a_run_larger_than_a_batch_is_created_whole_and_deleted_whole(state: AppState) -> None:
    orders = AssetSpec("orders", "s3://lake/orders")
    tasks = [TaskSpec(f"t{i}", inlets=[orders] if i % 2 else []) for i in range(COUNT)]
    created: dict[str, Any] = asyncio.run(
        create_run_in_steps(state, NewRun.checked("big", "r1", tasks))
    )
    assert created["state"] == DagRunState.RUNNING
    listed = created["task_instances"]
    assert len(listed) == COUNT == len({ti["id"] for ti in listed}) == _count(state, "big", "r1")
    assert [ti["task_id"] for ti in listed] == sorted(f"t{i}" for i in range(COUNT))
    with state.database.session_factory() as session:
        links = session.scalar(select(func.count()).select_from(TaskInstanceAsset))
        assert links == COUNT // 2
        assert runs.get_run(session, "big", "r1").state == DagRunState.RUNNING
    assert asyncio.run(delete_task_instances(state, "big", "r1")) == COUNT
    assert _count(state, "big", "r1") == 0


def test_a_run_being_created_is_invisible_and_its_id_taken(state: AppState) -> None:
    new = NewRun.checked("d", "r", [TaskSpec("t")])

    def begin(session: Any) -> None:
        assert runs.insert_new(
            session, runs.DagRun, state=DagRunState.CREATING, dag_id="d", run_id="r"
        )

    asyncio.run(in_transaction(state, begin))
    with state.database.session_factory() as session:
        with pytest.raises(NotFoundError):
            runs.get_run(session, "d", "r")
        assert runs.list_runs(session, "d") == []
    with pytest.raises(ConflictError, match="being created"):
        asyncio.run(create_run_in_steps(state, new))


@pytest.mark.parametrize(
    ("tasks", "message"),
    [
        ([], "at least one task"),
        ([TaskSpec("t"), TaskSpec("t")], "listed twice"),
        ([TaskSpec("t", retries=2**40)], "retries"),
        ([TaskSpec("t", map_index=-2)], "map_index"),
    ],
)
def test_a_bad_run_is_refused_before_anything_is_written(
    state: AppState, tasks: list[TaskSpec], message: str
) -> None:
    with pytest.raises(UsageError, match=message):
        NewRun.checked("d", "r", tasks)
