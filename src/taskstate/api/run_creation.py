"""Registering a DAG run, in steps short enough not to hold the database.

On SQLite every transaction of the API server runs inline on the event loop (see
``api.app.in_transaction``) and SQLite has one writer: a run of 40,000 task instances inserted in
one transaction held both for seconds, and every other request waited. So a run is created in
steps, each its own transaction, the event loop free between them:

1. the run's row, in state ``creating``, which no reader sees (``runs.get_run`` and
   ``runs.list_runs`` skip it; a second creation of the same run meets it and conflicts), with the
   assets its tasks declare;
2. the task instances, :data:`BATCH_SIZE` per transaction, inserted in bulk with their asset links
   and aliases;
3. the run switched to ``running``: from then on it is seen, complete.

Everything that can be refused is checked before step 1, so a later step fails only when the
database does; the partial run is then deleted. Deleting a run goes in batches too
(:func:`delete_task_instances`).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from taskstate.api import runs
from taskstate.api.app import AppState, in_transaction
from taskstate.api.bounds import INT32_MAX
from taskstate.api.run_dates import RunDates
from taskstate.db.models import (
    AssetRole,
    DagRun,
    DagRunState,
    TaskInstance,
    TaskInstanceAlias,
    TaskInstanceAsset,
    TaskInstanceState,
    utcnow,
)
from taskstate.errors import UsageError
from taskstate.state.codec import (
    validate_asset_name,
    validate_dag_id,
    validate_run_id,
    validate_task_id,
)

__all__ = ["BATCH_SIZE", "NewRun", "create_run", "create_run_in_steps", "delete_task_instances"]

BATCH_SIZE = 1000
"""Task instances inserted or deleted per transaction: ~20 ms of SQLite's time each."""


@dataclass(frozen=True)
class NewRun:
    """A run to register, checked: ``NewRun.checked(...)`` refuses what the database would."""

    dag_id: str
    run_id: str
    tasks: Sequence[runs.TaskSpec]
    dag_file: str | None
    dates: RunDates
    conf: str | None

    @classmethod
    def checked(
        cls,
        dag_id: str,
        run_id: str,
        tasks: Sequence[runs.TaskSpec],
        *,
        dag_file: str | None = None,
        dates: RunDates | None = None,
        conf: str | None = None,
    ) -> NewRun:
        validate_dag_id(dag_id)
        validate_run_id(run_id)
        if not tasks:
            raise UsageError("a DAG run needs at least one task")
        seen: set[tuple[str, int]] = set()
        for spec in tasks:
            validate_task_id(spec.task_id)
            if (spec.task_id, spec.map_index) in seen:
                raise UsageError(f"task {spec.task_id!r} [{spec.map_index}] is listed twice")
            seen.add((spec.task_id, spec.map_index))
            if not -1 <= spec.map_index <= INT32_MAX:
                raise UsageError(f"task {spec.task_id!r}: map_index {spec.map_index} is invalid")
            if not 0 <= spec.retries <= INT32_MAX or spec.retry_delay_seconds < 0:
                raise UsageError(f"task {spec.task_id!r}: retries and retry delay must be >= 0")
            for asset in (*spec.inlets, *spec.outlets):
                validate_asset_name(asset.name)
                validate_asset_name(asset.uri, what="asset uri")
            for alias in spec.outlet_aliases:
                validate_asset_name(alias, what="asset alias")
        return cls(dag_id, run_id, tasks, dag_file, dates or RunDates(), conf)


def _insert_run(session: Session, new: NewRun, state: DagRunState) -> dict[runs.AssetSpec, int]:
    """Step 1: the run's row and the assets; the id of each asset spec."""
    fields = {
        "dag_id": new.dag_id,
        "run_id": new.run_id,
        "dag_file": new.dag_file,
        "logical_date": new.dates.logical_date,
        "data_interval_start": new.dates.data_interval_start,
        "data_interval_end": new.dates.data_interval_end,
        "conf": new.conf,
    }
    if not runs.insert_new(session, DagRun, state=state, **fields):
        raise runs.run_exists(session, new.dag_id, new.run_id, new.conf)
    assets = dict.fromkeys(a for spec in new.tasks for a in (*spec.inlets, *spec.outlets))
    return {spec: runs.get_or_create_asset(session, spec).id for spec in assets}


def _insert_tis(
    session: Session, new: NewRun, specs: Sequence[runs.TaskSpec], asset_ids: dict[Any, int]
) -> list[dict[str, Any]]:
    """Step 2 for ``specs``: their task instances, asset links and aliases; the rows."""
    now = utcnow()
    rows: list[dict[str, Any]] = []
    links: list[dict[str, Any]] = []
    aliases: list[dict[str, Any]] = []
    for spec in specs:
        ti_id = str(uuid.uuid4())
        rows.append(
            {
                "id": ti_id,
                "dag_id": new.dag_id,
                "run_id": new.run_id,
                "task_id": spec.task_id,
                "map_index": spec.map_index,
                "state": TaskInstanceState.SCHEDULED,
                "try_number": 0,
                "max_tries": spec.retries,
                "retries": spec.retries,
                "retry_delay_seconds": spec.retry_delay_seconds,
                "started_at": None,
                "ended_at": None,
                "updated_at": now,
            }
        )
        roles = ((AssetRole.INLET, spec.inlets), (AssetRole.OUTLET, spec.outlets))
        linked = dict.fromkeys((asset_ids[a], role) for role, specs_ in roles for a in specs_)
        links.extend({"ti_id": ti_id, "asset_id": a, "role": role} for a, role in linked)
        aliases.extend(
            {"ti_id": ti_id, "name": name} for name in dict.fromkeys(spec.outlet_aliases)
        )
    session.execute(insert(TaskInstance), rows)
    if links:
        session.execute(insert(TaskInstanceAsset), links)
    if aliases:
        session.execute(insert(TaskInstanceAlias), aliases)
    return rows


def create_run(session: Session, new: NewRun) -> DagRun:
    """Register ``new`` in one transaction (the caller's), running at once; for small runs."""
    asset_ids = _insert_run(session, new, DagRunState.RUNNING)
    _insert_tis(session, new, new.tasks, asset_ids)
    return runs.get_run(session, new.dag_id, new.run_id)


async def create_run_in_steps(state: AppState, new: NewRun) -> dict[str, Any]:
    """Register ``new`` in steps (see the module's docstring); the run's body with its task
    instances, as ``GET /dag-runs/{dag_id}/{run_id}`` answers it."""
    asset_ids = await in_transaction(
        state, lambda session: _insert_run(session, new, DagRunState.CREATING)
    )
    rows: list[dict[str, Any]] = []
    try:
        for start in range(0, len(new.tasks), BATCH_SIZE):
            batch = new.tasks[start : start + BATCH_SIZE]
            await asyncio.sleep(0)  # let the requests that came meanwhile through
            rows.extend(
                await in_transaction(
                    state, partial(_insert_tis, new=new, specs=batch, asset_ids=asset_ids)
                )
            )
        run = await in_transaction(state, lambda session: _reveal(session, new))
    except BaseException:
        await asyncio.shield(_discard(state, new))
        raise
    rows.sort(key=lambda r: (r["task_id"], r["map_index"]))
    return {**runs.run_body(run), "task_instances": [_ti_body(row) for row in rows]}


def _reveal(session: Session, new: NewRun) -> DagRun:
    where = (DagRun.dag_id == new.dag_id, DagRun.run_id == new.run_id)
    session.execute(update(DagRun).where(*where).values(state=DagRunState.RUNNING))
    return runs.get_run(session, new.dag_id, new.run_id)


async def _discard(state: AppState, new: NewRun) -> None:
    """Delete what a failed creation left: the hidden run and its task instances."""
    await delete_task_instances(state, new.dag_id, new.run_id)

    def remove(session: Session) -> None:
        session.execute(
            delete(DagRun).where(DagRun.dag_id == new.dag_id, DagRun.run_id == new.run_id)
        )

    await in_transaction(state, remove)


async def delete_task_instances(state: AppState, dag_id: str, run_id: str) -> int:
    """Delete the run's task instances (their rows cascade), a batch per transaction; the
    count deleted."""
    deleted = 0
    while True:

        def remove_batch(session: Session) -> int:
            ids = session.scalars(
                select(TaskInstance.id)
                .where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id)
                .limit(BATCH_SIZE)
            ).all()
            if ids:
                session.execute(delete(TaskInstance).where(TaskInstance.id.in_(ids)))
            return len(ids)

        removed = await in_transaction(state, remove_batch)
        deleted += removed
        if removed < BATCH_SIZE:
            return deleted
        await asyncio.sleep(0)


def _ti_body(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "dag_id": row["dag_id"],
        "run_id": row["run_id"],
        "task_id": row["task_id"],
        "map_index": row["map_index"],
        "state": str(row["state"]),
        "try_number": 0,
        "max_tries": row["max_tries"],
        "retry_delay_seconds": row["retry_delay_seconds"],
        "started_at": None,
        "ended_at": None,
        "end_reason": None,
    }
