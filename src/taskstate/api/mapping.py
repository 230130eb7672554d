"""Public routes the runner uses to map a task over an upstream output, and to end instances
that will never run.

A task mapped over an output (``process.expand(item=upstream())``) is registered with one
placeholder instance, map index -1. Once its upstream tasks have succeeded, the runner reads
their outputs (``GET /dag-runs/{dag_id}/{run_id}/outputs/{task_id}``), counts the instances and
asks for them: ``POST /task-instances/{ti_id}/expand`` replaces the placeholder with instances
0..n-1 in one transaction, each with its own ``ti_id`` and the placeholder's retries and assets.
With n = 0 the placeholder ends ``skipped`` instead; a mapping that fails (an output that is not
a list) ends it ``failed`` (``/fail``). An n over the server's ``[workers] max_map_length`` is
refused before anything is read or written, so no client can have the server build rows without
bound.
"""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from taskstate.api import runs
from taskstate.api.app import app_state, in_transaction
from taskstate.api.outputs import read_output
from taskstate.api.public import require_api_key
from taskstate.db.models import TaskInstance, TaskInstanceAsset, TaskInstanceState
from taskstate.errors import ConflictError, UnmappableOutputError

__all__ = ["expand_ti", "router"]

router = APIRouter(prefix="/api/v1", tags=["public"], dependencies=[Depends(require_api_key)])

Json = dict[str, Any]


class ExpandModel(BaseModel):
    count: int = Field(ge=0)  # over [workers] max_map_length: refused by expand_ti


def expand_ti(
    session: Session, ti_id: str, count: int, *, max_map_length: int
) -> list[TaskInstance]:
    """Replace the placeholder ``ti_id`` by ``count`` instances (or end it skipped if 0)."""
    if count > max_map_length:
        raise UnmappableOutputError(
            f"cannot expand task instance {ti_id!r} into {count} task instances: more than "
            f"[workers] max_map_length = {max_map_length}",
            detail={"ti_id": ti_id, "count": count, "max_map_length": max_map_length},
        )
    placeholder = runs.get_ti(session, ti_id, for_update=True)
    if placeholder.map_index != -1 or placeholder.state != TaskInstanceState.SCHEDULED:
        raise ConflictError(
            f"task instance {placeholder.task_id!r} [{placeholder.map_index}] is "
            f"{placeholder.state}; only a scheduled placeholder (map index -1) can be expanded",
            detail={"ti_id": ti_id, "state": placeholder.state},
        )
    if count == 0:
        return [runs.end_without_try(session, ti_id, TaskInstanceState.SKIPPED)]
    links = session.execute(
        select(TaskInstanceAsset.asset_id, TaskInstanceAsset.role).where(
            TaskInstanceAsset.ti_id == ti_id
        )
    ).all()
    expanded = [
        TaskInstance(
            id=str(uuid.uuid4()),
            dag_id=placeholder.dag_id,
            run_id=placeholder.run_id,
            task_id=placeholder.task_id,
            map_index=map_index,
            state=TaskInstanceState.SCHEDULED,
            try_number=0,
            max_tries=placeholder.max_tries,
            retry_delay_seconds=placeholder.retry_delay_seconds,
        )
        for map_index in range(count)
    ]
    # The placeholder's asset links (and any output) go with it (ON DELETE CASCADE).
    session.delete(placeholder)
    session.flush()
    session.add_all(expanded)
    session.flush()
    session.add_all(
        TaskInstanceAsset(ti_id=ti.id, asset_id=asset_id, role=role)
        for ti in expanded
        for asset_id, role in links
    )
    session.flush()
    return expanded


@router.get("/dag-runs/{dag_id}/{run_id}/outputs/{task_id}")
async def get_output(dag_id: str, run_id: str, task_id: str, request: Request) -> Response:
    """``{"task_id": ..., "value": ...}``: the task's output, null if it returned nothing."""
    data = await in_transaction(
        app_state(request), lambda session: read_output(session, dag_id, run_id, task_id)
    )
    value = msgspec.Raw(data if data is not None else b"null")
    body = {"dag_id": dag_id, "run_id": run_id, "task_id": task_id, "value": value}
    return Response(msgspec.json.encode(body), media_type="application/json")


@router.post("/task-instances/{ti_id}/expand")
async def expand(ti_id: str, body: ExpandModel, request: Request) -> Json:
    """Replace a mapped task's placeholder with ``count`` instances; 0 ends it skipped."""

    state = app_state(request)
    limit = state.settings.workers.max_map_length

    def work(session: Session) -> Json:
        expanded = expand_ti(session, ti_id, body.count, max_map_length=limit)
        return {"task_instances": [runs.ti_body(ti) for ti in expanded]}

    return await in_transaction(state, work)


@router.post("/task-instances/{ti_id}/skip")
async def skip(ti_id: str, request: Request) -> Json:
    """End a scheduled instance as skipped (an upstream task was skipped)."""
    return await in_transaction(
        app_state(request),
        lambda session: runs.ti_body(
            runs.end_without_try(session, ti_id, TaskInstanceState.SKIPPED)
        ),
    )


@router.post("/task-instances/{ti_id}/fail")
async def fail(ti_id: str, request: Request) -> Json:
    """End a scheduled instance as failed without a try (its mapping failed)."""
    return await in_transaction(
        app_state(request),
        lambda session: runs.ti_body(
            runs.end_without_try(session, ti_id, TaskInstanceState.FAILED)
        ),
    )
