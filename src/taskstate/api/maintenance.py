"""Public routes that keep storage tidy: deleting DAG runs, expired keys, the purge queue,
reference lookups.

A worker-side backend's objects are out of the API server's reach. Whatever the server deletes
(a DAG run's state here, state cleared through the public API elsewhere) leaves their
references in the purge queue, and ``taskstate state purge``, run where the worker backend is
configured, removes the objects through these routes:

* ``GET /purge-queue`` pages through the queue; ``POST /purge-queue/claim`` drops the entries
  whose reference was written again since (their object is in use) and claims the rest;
  ``POST /purge-queue/claims/{claim}/done`` reports a claim's objects gone (see
  ``taskstate.api.purge``).
* ``POST /references/find`` says which of a batch of references are stored anywhere, for
  ``purge --orphans``, which removes objects that no reference names.

Expired keys are invisible already; ``GET /state/expired`` counts those still stored and
``POST /state/clean`` removes one batch of them (queueing their references), for ``taskstate
state clean``, which calls it until nothing is left. The server also cleans periodically.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from taskstate.api import cleanup, purge, runs
from taskstate.api.app import app_state, in_transaction
from taskstate.api.bounds import INT32_MAX, INT32_MIN
from taskstate.api.public import require_api_key
from taskstate.api.run_creation import delete_task_instances
from taskstate.errors import BackendError
from taskstate.state.types import TaskScope

__all__ = ["router"]

ClaimId = Annotated[
    str,
    Path(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"),
]

router = APIRouter(prefix="/api/v1", tags=["public"], dependencies=[Depends(require_api_key)])

Json = dict[str, Any]

MAX_BATCH = 1000
"""Most entries or references one request may name."""


class ClaimModel(BaseModel):
    ids: list[Annotated[int, Field(ge=INT32_MIN, le=INT32_MAX)]] = Field(max_length=MAX_BATCH)


class ReleaseModel(BaseModel):
    ids: list[Annotated[int, Field(ge=INT32_MIN, le=INT32_MAX)]] = Field(max_length=MAX_BATCH)


class FindRefsModel(BaseModel):
    backend: str = Field(min_length=1, max_length=500)
    refs: list[str] = Field(max_length=MAX_BATCH)


@router.delete("/dag-runs/{dag_id}/{run_id}")
async def delete_run(dag_id: str, run_id: str, request: Request, force: bool = False) -> Json:
    """Delete a DAG run, its task instances and their task state.

    The state goes first, through the server-side backend (which may keep it outside the
    database), and the references it held are queued for purging; then the rows. Every try
    still in flight (a forced deletion) is ended first, so no write of it lands after the clear
    in a backend that fences from state of its own (Redis).
    """
    state = app_state(request)
    task_ids = await in_transaction(
        state, lambda session: runs.deletable_run_tasks(session, dag_id, run_id, force=force)
    )
    tries = await in_transaction(
        state,
        lambda session: [(ti.id, ti.try_number) for ti in runs.list_tis(session, dag_id, run_id)],
    )
    for ti_id, try_number in tries:
        await state.state.backend.arecord_try(ti_id, try_number, "ended")
    queued = 0
    for task_id in task_ids:
        scope = TaskScope(dag_id, run_id, task_id)
        removed = await state.state.clear(scope, all_map_indices=True)
        queued += await purge.enqueue(state, "task", removed)

    # The task instances go in batches (their state rows with them), so a large run does not
    # hold SQLite's one writer; then the run's row.
    task_instances = await delete_task_instances(state, dag_id, run_id)

    def remove_rows(session: Session) -> int:
        return runs.delete_run(session, dag_id, run_id)

    task_instances += await in_transaction(state, remove_rows)
    return {
        "dag_id": dag_id,
        "run_id": run_id,
        "deleted": True,
        "task_instances": task_instances,
        "references_queued": queued,
    }


@router.get("/state/expired")
async def count_expired(request: Request) -> Json:
    """How many expired keys are still stored (invisible, waiting for the clean-up)."""
    return {"expired": await cleanup.count_expired(app_state(request))}


@router.post("/state/clean")
async def clean_expired(
    request: Request,
    batch_size: int | None = Query(None, ge=1, le=100_000),
    dry_run: bool = False,
) -> Json:
    """Remove one batch of expired keys and queue their references for purging.

    ``batch_size`` defaults to ``[state_store] cleanup_batch_size``; the answer says which was
    used, so a caller knows that a batch shorter than it was the last. A dry run removes
    nothing and answers how many keys a clean-up would remove.
    """
    state = app_state(request)
    limit = batch_size or state.settings.state_store.cleanup_batch_size
    answer: Json = {"dry_run": dry_run, "batch_size": limit}
    if dry_run:
        expired = await cleanup.count_expired(state)
        return {**answer, "expired": expired, "removed": 0, "references_queued": 0}
    report = await cleanup.clean_batch(state, limit=limit)
    return {**answer, "removed": report.removed, "references_queued": report.queued}


@router.get("/purge-queue")
async def list_purge_queue(
    request: Request,
    limit: int = Query(100, ge=1, le=MAX_BATCH),
    after: int = Query(0, ge=0, le=INT32_MAX),
) -> list[Json]:
    """References whose objects still wait for ``taskstate state purge``, oldest first."""
    return await purge.pending(app_state(request), limit, after)


@router.post("/purge-queue/claim")
async def claim_purge(body: ClaimModel, request: Request) -> Json:
    """Claim entries for a purge: those granted (no reference names their object, and no other
    purger holds them) come back under ``claim``; superseded entries are dropped."""
    claim, claimed, superseded = await purge.claim(app_state(request), body.ids)
    return {"claim": claim if claimed else None, "entries": claimed, "superseded": superseded}


@router.post("/purge-queue/claims/{claim}/done")
async def release_purge(claim: ClaimId, request: Request, body: ReleaseModel | None = None) -> Json:
    """The objects of ``claim`` are gone (those of the entries ``ids`` only, when given): the
    entries leave the queue. Entries left out keep the claim until it lapses."""
    ids = None if body is None else body.ids
    done = await purge.release(app_state(request), claim, ids)
    return {"claim": claim, "purged_through": done}


@router.post("/references/find")
async def find_references(body: FindRefsModel, request: Request) -> Json:
    """Which of ``refs``, written by the worker backend ``backend``, are stored in any scope."""
    state = app_state(request)
    found = await state.state.find_refs(body.backend, body.refs)
    if found is None:
        raise BackendError(
            f"the state backend {type(state.state.backend).__name__} cannot look up "
            "references, so objects that no reference names cannot be told apart",
            detail={"backend": type(state.state.backend).__name__},
        )
    return {"found": sorted(found)}
