"""Clearing a run's task instances, so that a runner continues the run (``dags test --resume``,
``taskstate tasks clear``).

A cleared instance is ``scheduled`` again, keeping its ``try_number``: its next try is the one
after the last, and it gets the task's retries again (``max_tries`` = tries so far + retries),
as Airflow's clear does. Its task state is kept unless the caller discards it, so a task that
checkpoints its progress resumes from there. The run is ``running`` again.

Without task ids, every instance that did not end well is cleared (``failed``,
``upstream_failed``, ``up_for_retry``, and tries left ``queued`` or ``running`` by a runner that
died); ``success`` and ``skipped`` instances are kept. With task ids, every instance of those
tasks is cleared, whatever its state.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel
from sqlalchemy.orm import Session

from taskstate.api import purge, runs
from taskstate.api.app import app_state, in_transaction
from taskstate.api.public import require_api_key
from taskstate.db.models import DagRunState, TaskInstanceState
from taskstate.state.types import TaskScope

__all__ = ["KEPT_STATES", "router"]

router = APIRouter(prefix="/api/v1", tags=["public"], dependencies=[Depends(require_api_key)])

KEPT_STATES = frozenset({TaskInstanceState.SUCCESS, TaskInstanceState.SKIPPED})
"""What a clear without task ids leaves as it is."""


class ClearRunModel(BaseModel):
    task_ids: list[str] | None = None
    """Clear every instance of these tasks; null: every instance that did not end well."""
    keep_state: bool = True
    """Keep the cleared instances' task state (false: clear it, objects queued for purging)."""


@router.post("/dag-runs/{dag_id}/{run_id}/clear")
async def clear_run(
    dag_id: str, run_id: str, body: ClearRunModel, request: Request
) -> dict[str, Any]:
    """Schedule the run's instances again for their next try; the answer is the run with its
    instances, and ``cleared``: the ids of those cleared."""
    state = app_state(request)

    def work(session: Session) -> tuple[list[str], list[TaskScope]]:
        run = runs.get_run(session, dag_id, run_id)
        tis = runs.list_tis(session, dag_id, run_id)
        if body.task_ids is None:
            chosen = [ti for ti in tis if ti.state not in KEPT_STATES]
        else:
            known = {ti.task_id for ti in tis}
            for task_id in body.task_ids:
                if task_id not in known:
                    raise runs.task_not_found(dag_id, run_id, task_id)
            wanted = set(body.task_ids)
            chosen = [ti for ti in tis if ti.task_id in wanted]
        for ti in chosen:
            ti.state = TaskInstanceState.SCHEDULED
            ti.max_tries = ti.try_number + ti.retries
            ti.ended_at = None
            ti.end_reason = None
        run.state = DagRunState.RUNNING
        run.ended_at = None
        run.end_reason = None
        return [ti.id for ti in chosen], [runs.scope_of(ti) for ti in chosen]

    cleared, scopes = await in_transaction(state, work)
    if not body.keep_state:
        for scope in scopes:
            await purge.enqueue(state, "task", await state.state.clear(scope))

    def answer(session: Session) -> dict[str, Any]:
        run = runs.get_run(session, dag_id, run_id)
        tis = runs.list_tis(session, dag_id, run_id)
        return {
            **runs.run_body(run),
            "task_instances": [runs.ti_body(ti) for ti in tis],
            "cleared": cleared,
        }

    return await in_transaction(state, answer)
