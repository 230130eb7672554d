"""The run registry: DAG runs, task instances, their assets and their lifecycle.

Each function takes a SQLAlchemy session and leaves committing to the caller. A task instance
moves through ``scheduled → queued → running → success | skipped | failed | up_for_retry``
(a running try ends skipped when the task skipped itself, and failed without a retry when it
asked for none); an up-for-retry instance is queued again for its next try, keeping its id (and
so its state). A scheduled instance that will never run ends without a try: ``upstream_failed``,
``skipped``, or ``failed`` (its mapping failed).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, literal, select
from sqlalchemy.orm import Session

from taskstate.db.engine import dialect_insert
from taskstate.db.models import (
    Asset,
    AssetEvent,
    AssetRole,
    Base,
    DagRun,
    DagRunState,
    TaskInstance,
    TaskInstanceAlias,
    TaskInstanceAsset,
    TaskInstanceState,
    TaskOutput,
    utcnow,
)
from taskstate.errors import (
    ConflictError,
    NotFoundError,
    StaleTryError,
    UnknownAssetError,
    UsageError,
)
from taskstate.state.codec import (
    validate_asset_name,
)
from taskstate.state.types import TaskScope

__all__ = [
    "AssetSpec",
    "TaskSpec",
    "alias_names",
    "asset_roles",
    "assets_of",
    "end_without_try",
    "find_ti",
    "finish_run",
    "finish_ti",
    "get_or_create_asset",
    "get_run",
    "get_ti",
    "insert_new",
    "list_runs",
    "list_tis",
    "mark_upstream_failed",
    "queue_ti",
    "require_running_try",
    "require_task",
    "resolve_asset",
    "run_body",
    "run_conf",
    "run_exists",
    "scope_of",
    "stale_try",
    "start_ti",
    "task_not_found",
    "ti_body",
]

_QUEUEABLE = {TaskInstanceState.SCHEDULED, TaskInstanceState.UP_FOR_RETRY}
_IN_FLIGHT = (TaskInstanceState.RUNNING, TaskInstanceState.QUEUED)
_DONE = {
    TaskInstanceState.SUCCESS,
    TaskInstanceState.FAILED,
    TaskInstanceState.UPSTREAM_FAILED,
    TaskInstanceState.SKIPPED,
}
_UNTRIED_ENDS = {
    TaskInstanceState.UPSTREAM_FAILED,
    TaskInstanceState.SKIPPED,
    TaskInstanceState.FAILED,
}


@dataclass(frozen=True)
class AssetSpec:
    name: str
    uri: str


@dataclass(frozen=True)
class TaskSpec:
    task_id: str
    map_index: int = -1
    retries: int = 0
    retry_delay_seconds: float = 0.0
    inlets: Sequence[AssetSpec] = ()
    outlets: Sequence[AssetSpec] = ()
    outlet_aliases: Sequence[str] = ()


def scope_of(ti: TaskInstance) -> TaskScope:
    return TaskScope(ti.dag_id, ti.run_id, ti.task_id, ti.map_index)


def insert_new(session: Session, model: type[Base], **values: Any) -> bool:
    """Insert a row unless one of its unique keys is taken; True if it was inserted.

    One statement: with a SELECT and then an INSERT, two transactions registering the same new
    row at once would both find nothing, and the second INSERT would fail on the unique key.
    Here the second waits for the first to commit, then inserts nothing.
    """
    dialect = session.get_bind().dialect.name
    insert = dialect_insert(dialect)(model)
    # Told by a returned row: SQLAlchemy has PostgreSQL return the new key, and then no count.
    inserted = insert.values(**values).on_conflict_do_nothing().returning(literal(True))
    return session.execute(inserted).first() is not None


def get_or_create_asset(session: Session, spec: AssetSpec) -> Asset:
    """The asset ``spec`` names, registered if new; a ConflictError if its name or uri is
    registered with another uri or name."""
    name = validate_asset_name(spec.name)
    uri = validate_asset_name(spec.uri, what="asset uri")
    named = select(Asset).where(Asset.name == name)
    asset = session.scalar(named)
    if asset is None:
        insert_new(session, Asset, name=name, uri=uri)
        asset = session.scalar(named)
    if asset is None:  # nothing was inserted: the uri is taken
        clash = session.scalar(select(Asset.name).where(Asset.uri == uri))
        raise ConflictError(
            f"asset uri {uri!r} already belongs to asset {clash!r}, not {name!r}",
            detail={"asset": name, "uri": uri},
        )
    if asset.uri != uri:
        raise ConflictError(
            f"asset {name!r} is registered with uri {asset.uri!r}, not {uri!r}",
            detail={"asset": name, "uri": uri},
        )
    return asset


def run_conf(run: DagRun) -> dict[str, Any]:
    """The run's conf as an object (``{}`` when it was given none)."""
    return json.loads(run.conf) if run.conf else {}


def run_exists(session: Session, dag_id: str, run_id: str, conf: str | None) -> ConflictError:
    """The error for a run that is registered already (or being registered)."""
    run = session.scalar(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
    if run is None or run.state == DagRunState.CREATING:
        return ConflictError(
            f"DAG {dag_id!r} already has a run {run_id!r} (being created); choose another run id",
            detail={"dag_id": dag_id, "run_id": run_id},
        )
    existing = run_conf(run)
    wanted = json.loads(conf) if conf else {}
    detail = {"dag_id": dag_id, "run_id": run_id}
    if existing != wanted:
        return ConflictError(
            f"DAG {dag_id!r} already has a run {run_id!r}, with conf {json.dumps(existing)}, "
            f"not {json.dumps(wanted)}; a run's conf cannot change: choose another run id",
            detail={**detail, "conf": existing},
        )
    return ConflictError(
        f"DAG {dag_id!r} already has a run {run_id!r}; choose another run id", detail=detail
    )


def get_run(session: Session, dag_id: str, run_id: str) -> DagRun:
    """The run, unless it is still being created (``api.run_creation``)."""
    run = session.scalar(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
    if run is None or run.state == DagRunState.CREATING:
        raise NotFoundError(
            f"DAG {dag_id!r} has no run {run_id!r}", detail={"dag_id": dag_id, "run_id": run_id}
        )
    return run


def list_runs(session: Session, dag_id: str | None = None) -> Sequence[DagRun]:
    query = select(DagRun).where(DagRun.state != DagRunState.CREATING)
    query = query.order_by(DagRun.created_at, DagRun.id)
    if dag_id is not None:
        query = query.where(DagRun.dag_id == dag_id)
    return session.scalars(query).all()


def list_tis(
    session: Session,
    dag_id: str,
    run_id: str | None = None,
    task_id: str | None = None,
    map_index: int | None = None,
) -> Sequence[TaskInstance]:
    query = select(TaskInstance).where(TaskInstance.dag_id == dag_id)
    if run_id is not None:
        query = query.where(TaskInstance.run_id == run_id)
    if task_id is not None:
        query = query.where(TaskInstance.task_id == task_id)
    if map_index is not None:
        query = query.where(TaskInstance.map_index == map_index)
    order = (TaskInstance.run_id, TaskInstance.task_id, TaskInstance.map_index)
    return session.scalars(query.order_by(*order)).all()


def task_not_found(dag_id: str, run_id: str, task_id: str) -> NotFoundError:
    return NotFoundError(
        f"run {run_id!r} of DAG {dag_id!r} has no task {task_id!r}",
        detail={"dag_id": dag_id, "run_id": run_id, "task_id": task_id},
    )


def require_task(session: Session, dag_id: str, run_id: str, task_id: str) -> None:
    """NotFoundError unless the run has a task ``task_id`` (any of its map indexes)."""
    found = session.scalar(
        select(
            exists().where(
                TaskInstance.dag_id == dag_id,
                TaskInstance.run_id == run_id,
                TaskInstance.task_id == task_id,
            )
        )
    )
    if not found:
        raise task_not_found(dag_id, run_id, task_id)


def get_ti(session: Session, ti_id: str, *, for_update: bool = False) -> TaskInstance:
    query = select(TaskInstance).where(TaskInstance.id == ti_id)
    if for_update:
        query = query.with_for_update()
    # Every ti_id is a uuid: a longer one is not looked up (nor one PostgreSQL cannot hold).
    ti = None if len(ti_id) > 36 or "\x00" in ti_id else session.scalar(query)
    if ti is None:
        raise NotFoundError(f"no task instance {ti_id!r}", detail={"ti_id": ti_id})
    return ti


def find_ti(session: Session, scope: TaskScope) -> TaskInstance:
    ti = session.scalar(
        select(TaskInstance).where(
            TaskInstance.dag_id == scope.dag_id,
            TaskInstance.run_id == scope.run_id,
            TaskInstance.task_id == scope.task_id,
            TaskInstance.map_index == scope.map_index,
        )
    )
    if ti is None:
        raise NotFoundError(f"no task instance {scope}", detail={"scope": str(scope)})
    return ti


def assets_of(session: Session, ti_id: str) -> dict[str, str]:
    """Name → uri of every asset the task instance declares."""
    rows = session.execute(
        select(Asset.name, Asset.uri)
        .join(TaskInstanceAsset, TaskInstanceAsset.asset_id == Asset.id)
        .where(TaskInstanceAsset.ti_id == ti_id)
        .order_by(Asset.name)
        .distinct()
    )
    return {name: uri for name, uri in rows}


def asset_roles(session: Session, ti_id: str) -> dict[str, tuple[str, set[str]]]:
    """Name → (uri, roles) of every asset the task instance declares; roles are ``inlet``
    and ``outlet``."""
    rows = session.execute(
        select(Asset.name, Asset.uri, TaskInstanceAsset.role)
        .join(TaskInstanceAsset, TaskInstanceAsset.asset_id == Asset.id)
        .where(TaskInstanceAsset.ti_id == ti_id)
        .order_by(Asset.name)
    )
    found: dict[str, tuple[str, set[str]]] = {}
    for name, uri, role in rows:
        found.setdefault(name, (uri, set()))[1].add(role)
    return found


def resolve_asset(session: Session, name: str | None, uri: str | None) -> str:
    """The name of the asset named ``name`` or with ``uri``."""
    if (name is None) == (uri is None):
        raise UsageError("name the asset with exactly one of name or uri")
    column = Asset.name if name is not None else Asset.uri
    found = session.scalar(select(Asset.name).where(column == (name or uri)))
    if found is None:
        what = f"name {name!r}" if name is not None else f"uri {uri!r}"
        raise UnknownAssetError(f"no asset with {what}", detail={"name": name, "uri": uri})
    return found


def queue_ti(session: Session, ti_id: str) -> TaskInstance:
    """Start the next try: ``scheduled`` or ``up_for_retry`` → ``queued``, try_number + 1.

    The output of an earlier try goes: the new try's return value (or None) replaces it.
    """
    ti = get_ti(session, ti_id, for_update=True)
    if ti.state not in _QUEUEABLE:
        raise ConflictError(
            f"task instance {ti.task_id!r} is {ti.state}; only scheduled or up_for_retry "
            "instances can be queued",
            detail={"ti_id": ti_id, "state": ti.state},
        )
    ti.state = TaskInstanceState.QUEUED
    ti.try_number += 1
    session.execute(delete(TaskOutput).where(TaskOutput.ti_id == ti_id))
    return ti


def start_ti(session: Session, ti_id: str, *, pid: int, hostname: str) -> TaskInstance:
    ti = get_ti(session, ti_id, for_update=True)
    if ti.state != TaskInstanceState.QUEUED:
        raise ConflictError(
            f"task instance {ti.task_id!r} is {ti.state}, not queued; it cannot start",
            detail={"ti_id": ti_id, "state": ti.state},
        )
    ti.state = TaskInstanceState.RUNNING
    ti.started_at = utcnow()
    ti.ended_at = None
    ti.pid = pid
    ti.hostname = hostname[:250]
    return ti


_TRY_ENDS = {TaskInstanceState.SUCCESS, TaskInstanceState.SKIPPED, TaskInstanceState.FAILED}


def finish_ti(
    session: Session,
    ti_id: str,
    *,
    state: str,
    retry: bool = True,
    try_number: int | None = None,
    reason: str | None = None,
) -> TaskInstance:
    """End the running try as ``success``, ``skipped`` or ``failed``; a failed try with
    retries left is ``up_for_retry``, unless ``retry`` is false. ``reason``: why it ended.

    A queued try may end as failed too: its supervisor died before it could start it. Given
    ``try_number`` (a token's try), any other try, or one that has ended, is a StaleTryError.
    """
    if state not in _TRY_ENDS:
        raise UsageError(f"a try ends as success, skipped or failed, not {state!r}")
    ti = get_ti(session, ti_id, for_update=True)
    endable = _IN_FLIGHT if state == TaskInstanceState.FAILED else (TaskInstanceState.RUNNING,)
    if try_number is not None and (ti.try_number != try_number or ti.state not in endable):
        raise stale_try(ti, try_number)
    if ti.state not in endable:
        raise ConflictError(
            f"task instance {ti.task_id!r} is {ti.state}, not running",
            detail={"ti_id": ti_id, "state": ti.state},
        )
    if state != TaskInstanceState.SUCCESS:
        # Asset events the try sent before it ended otherwise are no outcome of it.
        _discard_asset_events(session, ti_id)
    if state != TaskInstanceState.FAILED:
        ti.state = state
    elif retry and ti.try_number <= ti.max_tries:
        ti.state = TaskInstanceState.UP_FOR_RETRY
    else:
        ti.state = TaskInstanceState.FAILED
    ti.ended_at = utcnow()
    ti.end_reason = reason
    return ti


def _discard_asset_events(session: Session, ti_id: str) -> None:
    """Remove the asset events of the task instance: on a try that ends other than success,
    they are that try's (an instance that succeeded has no later try). Without aliases, they
    are on its outlets, which the asset index finds; through an alias, on any asset."""
    found = delete(AssetEvent).where(AssetEvent.source_ti_id == ti_id)
    if not alias_names(session, ti_id):
        outlets = select(TaskInstanceAsset.asset_id).where(
            TaskInstanceAsset.ti_id == ti_id, TaskInstanceAsset.role == AssetRole.OUTLET
        )
        found = found.where(AssetEvent.asset_id.in_(outlets))
    session.execute(found)


def alias_names(session: Session, ti_id: str) -> set[str]:
    """The asset aliases the task instance declares as outlets."""
    query = select(TaskInstanceAlias.name).where(TaskInstanceAlias.ti_id == ti_id)
    return set(session.scalars(query))


def require_running_try(
    session: Session, ti_id: str, try_number: int, *, queued: bool = False
) -> TaskInstance:
    """The task instance, locked, if ``try_number`` is its running try (or, with ``queued``,
    its queued one); else StaleTryError.

    A token outlives its try: once the try has ended, or a later try has been queued, what the
    try left behind (its outcome, its output) is no longer its token's to change.
    """
    ti = get_ti(session, ti_id, for_update=True)
    current = (TaskInstanceState.RUNNING, TaskInstanceState.QUEUED) if queued else ("running",)
    if ti.try_number == try_number and ti.state in current:
        return ti
    raise stale_try(ti, try_number)


def stale_try(ti: TaskInstance, try_number: int) -> StaleTryError:
    """Why try ``try_number`` of ``ti`` can change nothing any more."""
    if ti.try_number != try_number:
        why = f"try {try_number} is over; the instance is {ti.state} on try {ti.try_number}"
    else:
        why = f"try {try_number} is {ti.state}, not running"
    return StaleTryError(
        f"task instance {scope_of(ti)} ({ti.id}): {why}",
        detail={
            "ti_id": ti.id,
            "state": ti.state,
            "try_number": ti.try_number,
            "token_try_number": try_number,
        },
    )


def mark_upstream_failed(session: Session, ti_id: str) -> TaskInstance:
    return end_without_try(session, ti_id, TaskInstanceState.UPSTREAM_FAILED)


def end_without_try(session: Session, ti_id: str, state: TaskInstanceState) -> TaskInstance:
    """End a scheduled instance that will never run, in ``state``."""
    if state not in _UNTRIED_ENDS:
        raise UsageError(f"a task instance cannot end as {state!r} without a try")
    ti = get_ti(session, ti_id, for_update=True)
    if ti.state != TaskInstanceState.SCHEDULED:
        raise ConflictError(
            f"task instance {ti.task_id!r} is {ti.state}, not scheduled",
            detail={"ti_id": ti_id, "state": ti.state},
        )
    ti.state = state
    ti.ended_at = utcnow()
    return ti


def finish_run(
    session: Session,
    dag_id: str,
    run_id: str,
    state: str,
    reason: str | None = None,
    *,
    end_unfinished: bool = False,
) -> DagRun:
    """End the run in ``state``. Its instances must have ended, unless ``end_unfinished`` (a
    failed run only): those that have not end failed then, with ``reason``."""
    if state not in (DagRunState.SUCCESS, DagRunState.FAILED):
        raise UsageError(f"a DAG run finishes as success or failed, not {state!r}")
    if end_unfinished and state != DagRunState.FAILED:
        raise UsageError("only a failed run may end its unfinished task instances")
    run = get_run(session, dag_id, run_id)
    tis = list_tis(session, dag_id, run_id)
    if end_unfinished:
        for ti in tis:
            if ti.state not in _DONE:
                ti.state = TaskInstanceState.FAILED
                ti.ended_at = utcnow()
                ti.end_reason = reason
    unfinished = [ti.task_id for ti in tis if ti.state not in _DONE]
    if unfinished:
        raise ConflictError(
            f"DAG run {run_id!r} still has unfinished task instances: {unfinished}",
            detail={"tasks": unfinished},
        )
    run.state = state
    run.ended_at = utcnow()
    run.end_reason = reason
    return run


def deletable_run_tasks(session: Session, dag_id: str, run_id: str, *, force: bool) -> list[str]:
    """The task ids of a run about to be deleted; refuses a run with a try in flight.

    A queued or running try could write state into a scope the deletion has just cleared;
    ``force`` deletes anyway (for a run whose runner died and left tries marked running).
    """
    get_run(session, dag_id, run_id)
    tis = list_tis(session, dag_id, run_id)
    active = sorted({ti.task_id for ti in tis if ti.state in _IN_FLIGHT})
    if active and not force:
        raise ConflictError(
            f"DAG run {run_id!r} of {dag_id!r} has tries in flight ({', '.join(active)}); "
            "wait for them to end, or force the deletion",
            detail={"dag_id": dag_id, "run_id": run_id, "tasks": active},
        )
    return sorted({ti.task_id for ti in tis})


def delete_run(session: Session, dag_id: str, run_id: str) -> int:
    """Delete a run and its task instances (their state rows go with them); count the tis.

    A run deleted meanwhile by another request is not found, rather than deleted twice.
    """
    removed = session.execute(
        delete(TaskInstance).where(TaskInstance.dag_id == dag_id, TaskInstance.run_id == run_id)
    )
    run = session.execute(delete(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
    if not run.rowcount:  # type: ignore[attr-defined]
        get_run(session, dag_id, run_id)  # raises NotFoundError
    return int(removed.rowcount)  # type: ignore[attr-defined]


def ti_body(ti: TaskInstance) -> dict[str, Any]:
    return {
        "id": ti.id,
        "dag_id": ti.dag_id,
        "run_id": ti.run_id,
        "task_id": ti.task_id,
        "map_index": ti.map_index,
        "state": ti.state,
        "try_number": ti.try_number,
        "max_tries": ti.max_tries,
        "retry_delay_seconds": ti.retry_delay_seconds,
        "started_at": _iso(ti.started_at),
        "ended_at": _iso(ti.ended_at),
        "end_reason": ti.end_reason,
    }


def run_body(run: DagRun) -> dict[str, Any]:
    return {
        "dag_id": run.dag_id,
        "run_id": run.run_id,
        "state": run.state,
        "dag_file": run.dag_file,
        "logical_date": _iso(run.logical_date),
        "data_interval_start": _iso(run.data_interval_start),
        "data_interval_end": _iso(run.data_interval_end),
        "conf": run_conf(run),
        "created_at": _iso(run.created_at),
        "ended_at": _iso(run.ended_at),
        "end_reason": run.end_reason,
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
