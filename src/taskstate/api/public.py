"""The public API (``/api/v1``), for people, the CLI and the runner; it needs an API key.

Every listed state entry says how its value is stored: ``value`` inline (and ``ref`` null), or
``ref`` (the reference, with the ``backend`` that wrote it; ``value`` null, since the server
cannot resolve what a worker-side backend keeps). It also says when it expires (``expires_at``,
null if never) and who wrote it last (``written_by``: the task instance's try as an object with
``dag_id``, ``run_id``, ``task_id``, ``map_index`` and ``try_number``, or ``"api"`` for a write
through this API; null if not recorded). A ``PUT`` takes an optional ``retention``: seconds, or
``"never"``; without it, the server's ``[state_store] default_retention_days`` applies.

``encryption``, present only for an encrypted value, is the id of the key it was encrypted with
where it was written (a task process, or the CLI, with ``[workers] encryption_keys``); ``value``
is then the ciphertext, a string, which only a holder of the key can read. A ``PUT`` may send
one (its ``value`` then the ciphertext string).
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, TypeAdapter, ValidationError
from sqlalchemy.orm import Session

from taskstate.api import purge, runs
from taskstate.api.app import AppState, app_state, in_transaction
from taskstate.api.auth import bearer
from taskstate.api.bounds import INT32_MAX, MapIndex
from taskstate.api.preconditions import guarded, if_version_of, tagged
from taskstate.api.run_creation import NewRun, create_run_in_steps
from taskstate.api.run_dates import RunDates
from taskstate.errors import InvalidValueError, NotFoundError, UsageError
from taskstate.state.codec import decode_value, encode_value, validate_key
from taskstate.state.provenance import API_WRITER, decode_writer
from taskstate.state.types import AssetScope, StateEntry, StateScope, StoredValue, TaskScope

__all__ = ["router"]


async def require_api_key(request: Request) -> AppState:
    state = app_state(request)
    state.api_keys.check(bearer(request.headers.get("authorization")), state.signer)
    return state


router = APIRouter(prefix="/api/v1", tags=["public"], dependencies=[Depends(require_api_key)])

Json = dict[str, Any]

MAX_RETRY_DELAY = 366 * 86_400.0
"""A year, in seconds: longer than any retry delay, short enough for a date to hold."""


class AssetModel(BaseModel):
    name: str = Field(max_length=1500)
    uri: str = Field(max_length=1500)


class TaskModel(BaseModel):
    task_id: str
    map_index: int = Field(-1, ge=-1, le=INT32_MAX)
    retries: int = Field(0, ge=0, le=INT32_MAX)
    retry_delay_seconds: float = Field(0.0, ge=0, le=MAX_RETRY_DELAY, allow_inf_nan=False)
    inlets: list[AssetModel] = []
    outlets: list[AssetModel] = []
    outlet_aliases: list[str] = []


class _RunFields(BaseModel):
    dag_id: str
    run_id: str
    dag_file: str | None = Field(None, max_length=4096)
    tasks: list[Any]
    logical_date: datetime | None = None
    data_interval_start: datetime | None = None
    data_interval_end: datetime | None = None
    conf: dict[str, Any] | None = None


class CreateRunModel(_RunFields):
    """A new run. Its dates are timezone-aware ISO 8601; without a data interval, a run with a
    logical date has that date for both ends. ``conf`` is a JSON object, or null for none."""

    tasks: list[TaskModel]


_TASKS = TypeAdapter(list[TaskModel])
TASK_SLICE = 1000
"""Tasks of a new run validated at a time, the event loop free between slices."""


class FinishRunModel(BaseModel):
    state: str = Field(max_length=20)
    reason: str | None = Field(None, max_length=10_000)
    end_unfinished: bool = False
    """End the instances not ended yet as failed, with the same reason (an interrupted run)."""


class ValueModel(BaseModel):
    value: Any
    # Checked by the retention check (InvalidRetentionError), not by pydantic's coercion.
    retention: Any = None
    encryption: str | None = None
    """The id of the key ``value`` (then a ciphertext string) is encrypted with."""


def _metadata(stored: StoredValue) -> Json:
    expires_at = stored.expires_at
    fields: Json = {
        "expires_at": None if expires_at is None else expires_at.isoformat(),
        "written_by": decode_writer(stored.written_by),
        "version": stored.version,
    }
    if stored.encryption is not None:
        fields["encryption"] = stored.encryption
    return fields


def _stored_fields(stored: StoredValue) -> Json:
    fields: Json
    if stored.ref_backend is not None:
        fields = {"value": None, "ref": stored.data, "backend": stored.ref_backend}
    else:
        fields = {"value": decode_value(stored.data), "ref": None, "backend": None}
    return {**fields, **_metadata(stored)}


def _entry(entry: StateEntry, owner: Json) -> Json:
    return {
        **owner,
        "key": entry.key,
        **_stored_fields(entry.stored),
        "updated_at": entry.updated_at.isoformat(),
    }


def _task_owner(scope: TaskScope) -> Json:
    return {
        "dag_id": scope.dag_id,
        "run_id": scope.run_id,
        "task_id": scope.task_id,
        "map_index": scope.map_index,
    }


async def _store(
    state: AppState,
    scope: StateScope,
    key: str,
    body: ValueModel,
    request: Request,
    response: Response,
) -> Json:
    """Store ``body`` for ``key`` (if ``If-Match`` / ``If-None-Match`` hold); the answer's
    fields after the owner's."""
    validate_key(key)
    data = encode_value(body.value, max_bytes=state.state.max_value_bytes)
    if_version = if_version_of(request)
    stored = await guarded(
        state.state.set_value(
            scope,
            key,
            data,
            retention=body.retention,
            written_by=API_WRITER,
            if_version=if_version,
            encryption=body.encryption,
        )
    )
    tagged(response, stored)
    return {"key": key, "value": body.value, "ref": None, "backend": None, **_metadata(stored)}


# -- runs and task instances ------------------------------------------------------------------


def _spec(task: TaskModel) -> runs.TaskSpec:
    return runs.TaskSpec(
        task_id=task.task_id,
        map_index=task.map_index,
        retries=task.retries,
        retry_delay_seconds=task.retry_delay_seconds,
        inlets=[runs.AssetSpec(a.name, a.uri) for a in task.inlets],
        outlets=[runs.AssetSpec(a.name, a.uri) for a in task.outlets],
        outlet_aliases=list(task.outlet_aliases),
    )


def _invalid(exc: ValidationError, *prefix: Any, offset: int = 0) -> RequestValidationError:
    errors = []
    for error in exc.errors(include_url=False, include_context=False):
        loc = list(error["loc"])
        if offset and loc and isinstance(loc[0], int):
            loc[0] += offset
        errors.append({**error, "loc": (*prefix, *loc)})
    return RequestValidationError(errors)


async def _parsed_run(request: Request) -> tuple[_RunFields, list[runs.TaskSpec]]:
    """The body of ``POST /dag-runs`` (a :class:`CreateRunModel`), its tasks validated a slice
    at a time: in one piece, 40,000 of them held the event loop for a second or more."""
    raw = await request.body()
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise InvalidValueError(f"the request body is not valid JSON: {exc.msg}") from exc
    except (ValueError, RecursionError) as exc:  # not UTF-8, 4,300 digits, nested too deeply
        raise UsageError(f"the request body cannot be read: {type(exc).__name__}") from exc
    try:
        fields = _RunFields.model_validate(data)
    except ValidationError as exc:
        raise _invalid(exc, "body") from exc
    specs: list[runs.TaskSpec] = []
    for start in range(0, len(fields.tasks), TASK_SLICE):
        try:
            models = _TASKS.validate_python(fields.tasks[start : start + TASK_SLICE])
        except ValidationError as exc:
            raise _invalid(exc, "body", "tasks", offset=start) from exc
        specs.extend(_spec(task) for task in models)
        await asyncio.sleep(0)
    return fields, specs


# The body (a CreateRunModel) is read by _parsed_run; api.openapi declares it.
@router.post("/dag-runs", status_code=201, response_model=dict[str, Any])
async def create_run(request: Request) -> Response:
    """Register a run and its task instances; answers the run with them (encoded by msgspec:
    a run of 40,000 task instances through FastAPI's encoder held the event loop for seconds)."""
    state = app_state(request)
    body, specs = await _parsed_run(request)
    dates = RunDates.checked(
        _utc(body.logical_date), _utc(body.data_interval_start), _utc(body.data_interval_end)
    )
    state = app_state(request)
    conf = None
    if body.conf is not None:
        conf = encode_value(body.conf, max_bytes=state.settings.state_store.max_value_bytes)
    new = NewRun.checked(
        body.dag_id,
        body.run_id,
        specs,
        dag_file=body.dag_file,
        dates=dates,
        conf=None if conf is None else conf.decode(),
    )
    created = await create_run_in_steps(state, new)
    return Response(msgspec.json.encode(created), status_code=201, media_type="application/json")


def _utc(moment: datetime | None) -> datetime | None:
    """A date without a zone is UTC, Airflow's default time zone."""
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=UTC)


@router.get("/dag-runs")
async def list_runs(request: Request, dag_id: str | None = None) -> list[Json]:
    return await in_transaction(
        app_state(request),
        lambda session: [runs.run_body(r) for r in runs.list_runs(session, dag_id)],
    )


@router.get("/dag-runs/{dag_id}/{run_id}")
async def get_run(dag_id: str, run_id: str, request: Request) -> Json:
    def work(session: Session) -> Json:
        run = runs.get_run(session, dag_id, run_id)
        tis = runs.list_tis(session, dag_id, run_id)
        return {**runs.run_body(run), "task_instances": [runs.ti_body(ti) for ti in tis]}

    return await in_transaction(app_state(request), work)


@router.patch("/dag-runs/{dag_id}/{run_id}")
async def finish_run(dag_id: str, run_id: str, body: FinishRunModel, request: Request) -> Json:
    return await in_transaction(
        app_state(request),
        lambda session: runs.run_body(
            runs.finish_run(
                session, dag_id, run_id, body.state, body.reason, end_unfinished=body.end_unfinished
            )
        ),
    )


@router.get("/task-instances/{ti_id}")
async def get_task_instance(ti_id: str, request: Request) -> Json:
    return await in_transaction(
        app_state(request), lambda session: runs.ti_body(runs.get_ti(session, ti_id))
    )


@router.post("/task-instances/{ti_id}/queue")
async def queue_task_instance(ti_id: str, request: Request) -> Json:
    """Queue the next try; the answer carries the token the try's supervisor will use."""
    state = app_state(request)

    def work(session: Session) -> Json:
        ti = runs.queue_ti(session, ti_id)
        assets = runs.assets_of(session, ti.id)
        token = state.signer.issue(ti.id, runs.scope_of(ti), assets, try_number=ti.try_number)
        return {**runs.ti_body(ti), "token": token}

    queued = await in_transaction(state, work)
    # The earlier try is overtaken: a backend that fences from state of its own learns it.
    await state.state.backend.arecord_try(ti_id, int(queued["try_number"]), "queued")
    return queued


@router.post("/task-instances/{ti_id}/upstream-failed")
async def mark_upstream_failed(ti_id: str, request: Request) -> Json:
    return await in_transaction(
        app_state(request),
        lambda session: runs.ti_body(runs.mark_upstream_failed(session, ti_id)),
    )


# -- task state -------------------------------------------------------------------------------


async def _task_scope(
    state: AppState, dag_id: str, run_id: str, task_id: str, map_index: int
) -> TaskScope:
    scope = TaskScope(dag_id, run_id, task_id, map_index)
    await in_transaction(state, lambda session: runs.find_ti(session, scope))
    return scope


async def _task_of_run(
    state: AppState, dag_id: str, run_id: str, task_id: str, map_index: int
) -> TaskScope:
    await in_transaction(state, lambda s: runs.require_task(s, dag_id, run_id, task_id))
    return TaskScope(dag_id, run_id, task_id, map_index)


@router.get("/task-state")
async def list_task_state(
    request: Request,
    dag_id: str,
    run_id: str | None = None,
    task_id: str | None = None,
    map_index: Annotated[int | None, Query(ge=-1, le=INT32_MAX)] = None,
) -> list[Json]:
    state = app_state(request)
    tis = await in_transaction(
        state,
        lambda session: [
            runs.scope_of(ti) for ti in runs.list_tis(session, dag_id, run_id, task_id, map_index)
        ],
    )
    listed: list[Json] = []
    for scope in tis:
        owner = _task_owner(scope)
        listed.extend(_entry(e, owner) for e in await state.state.list_entries(scope))
    return listed


@router.get("/task-state/{key:state_key}")
async def get_task_state(
    key: str,
    request: Request,
    response: Response,
    dag_id: str,
    run_id: str,
    task_id: str,
    map_index: MapIndex = -1,
) -> Json:
    state = app_state(request)
    scope = await _task_scope(state, dag_id, run_id, task_id, map_index)
    stored = await state.state.get(scope, key)
    if stored is None:
        raise NotFoundError(f"{scope} has no key {key!r}", detail={"key": key})
    tagged(response, stored)
    return {**_task_owner(scope), "key": key, **_stored_fields(stored)}


@router.put("/task-state/{key:state_key}")
async def set_task_state(
    key: str,
    body: ValueModel,
    request: Request,
    response: Response,
    dag_id: str,
    run_id: str,
    task_id: str,
    map_index: MapIndex = -1,
) -> Json:
    state = app_state(request)
    scope = await _task_scope(state, dag_id, run_id, task_id, map_index)
    return {**_task_owner(scope), **await _store(state, scope, key, body, request, response)}


@router.delete("/task-state/{key:state_key}")
async def delete_task_state(
    key: str, request: Request, dag_id: str, run_id: str, task_id: str, map_index: MapIndex = -1
) -> Json:
    state = app_state(request)
    scope = await _task_scope(state, dag_id, run_id, task_id, map_index)
    removed = await guarded(state.state.delete(scope, key, if_version=if_version_of(request)))
    await purge.enqueue(state, "task", [removed])
    return {**_task_owner(scope), "key": key, "deleted": removed is not None}


@router.delete("/task-state")
async def clear_task_state(
    request: Request,
    dag_id: str,
    run_id: str,
    task_id: str,
    map_index: MapIndex = -1,
    all_map_indices: bool = Query(False),
) -> Json:
    state = app_state(request)
    if all_map_indices:
        # Every index of the task: any of its instances will do, its map index is not needed
        # (a mapped task has no instance -1; one mapped over an output has only that one).
        scope = await _task_of_run(state, dag_id, run_id, task_id, map_index)
    else:
        scope = await _task_scope(state, dag_id, run_id, task_id, map_index)
    removed = await state.state.clear(scope, all_map_indices=all_map_indices)
    await purge.enqueue(state, "task", removed)
    return {**_task_owner(scope), "cleared": True, "references_removed": len(removed)}


# -- asset state ------------------------------------------------------------------------------


async def _asset_scope(state: AppState, name: str | None, uri: str | None) -> AssetScope:
    found = await in_transaction(state, lambda session: runs.resolve_asset(session, name, uri))
    return AssetScope(found)


@router.get("/asset-state")
async def list_asset_state(
    request: Request, name: str | None = None, uri: str | None = None
) -> list[Json]:
    state = app_state(request)
    scope = await _asset_scope(state, name, uri)
    owner = {"asset": scope.name}
    return [_entry(e, owner) for e in await state.state.list_entries(scope)]


@router.get("/asset-state/{key:state_key}")
async def get_asset_state(
    key: str, request: Request, response: Response, name: str | None = None, uri: str | None = None
) -> Json:
    state = app_state(request)
    scope = await _asset_scope(state, name, uri)
    stored = await state.state.get(scope, key)
    if stored is None:
        raise NotFoundError(f"{scope} has no key {key!r}", detail={"key": key})
    tagged(response, stored)
    return {"asset": scope.name, "key": key, **_stored_fields(stored)}


@router.put("/asset-state/{key:state_key}")
async def set_asset_state(
    key: str,
    body: ValueModel,
    request: Request,
    response: Response,
    name: str | None = None,
    uri: str | None = None,
) -> Json:
    state = app_state(request)
    scope = await _asset_scope(state, name, uri)
    return {"asset": scope.name, **await _store(state, scope, key, body, request, response)}


@router.delete("/asset-state/{key:state_key}")
async def delete_asset_state(
    key: str, request: Request, name: str | None = None, uri: str | None = None
) -> Json:
    state = app_state(request)
    scope = await _asset_scope(state, name, uri)
    removed = await guarded(state.state.delete(scope, key, if_version=if_version_of(request)))
    await purge.enqueue(state, "asset", [removed])
    return {"asset": scope.name, "key": key, "deleted": removed is not None}


@router.delete("/asset-state")
async def clear_asset_state(
    request: Request, name: str | None = None, uri: str | None = None
) -> Json:
    state = app_state(request)
    scope = await _asset_scope(state, name, uri)
    removed = await state.state.clear(scope)
    await purge.enqueue(state, "asset", removed)
    return {"asset": scope.name, "cleared": True, "references_removed": len(removed)}
