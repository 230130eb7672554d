"""The execution API (``/execution``), called by supervisors with a task-instance token.

The state routes are the hot path of every ``get``/``set``: they read the body with msgspec,
pass a JSON value through as its raw text, and check the token against a cache.

Keys travel in the path (one segment, percent-encoded, so they may contain ``/``); assets are
named by ``?name=`` or ``?uri=``. A GET of a missing key answers 200 with an empty body object
(``{}``): missing is a normal answer on the hot path, not an error.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TypeVar

import msgspec
from fastapi import APIRouter, Request, Response
from sqlalchemy.orm import Session
from starlette.routing import Route

from taskstate.api import purge, runs
from taskstate.api.app import AppState, app_state, in_transaction
from taskstate.api.auth import TokenClaims, token_claims
from taskstate.api.bounds import INT32_MAX
from taskstate.api.preconditions import etag, if_version_of
from taskstate.contracts.http import (
    FinishRequest,
    FinishResponse,
    HeartbeatResponse,
    PurgedBody,
    RefBody,
    RemovedRefsBody,
    StartRequest,
    StartResponse,
    StateBody,
)
from taskstate.contracts.types import AssetInfo, DagRunInfo, TaskInstanceInfo
from taskstate.db.models import DagRun
from taskstate.errors import InvalidValueError, UsageError
from taskstate.state.types import (
    AssetScope,
    StateKind,
    StateScope,
    StoredValue,
    TaskScope,
    TryFence,
)

__all__ = ["decode_body", "json_response", "router"]

router = APIRouter(prefix="/execution", tags=["execution"])

T = TypeVar("T")

_state_body = msgspec.json.Decoder(StateBody)
_CLAIM = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_start_body = msgspec.json.Decoder(StartRequest)
_finish_body = msgspec.json.Decoder(FinishRequest)
_encode = msgspec.json.encode


def json_response(body: object) -> Response:
    """``body`` (a msgspec struct) as a JSON response, encoded by msgspec."""
    return Response(_encode(body), media_type="application/json")


def _claims(request: Request, state: AppState) -> TokenClaims:
    return token_claims(request.headers.get("authorization"), state.signer)


def decode_body(
    body: bytes, decoder: msgspec.json.Decoder[T], what: str, error: type[UsageError] = UsageError
) -> T:
    """``body`` decoded by ``decoder``; ``error`` naming ``what`` if it is malformed."""
    try:
        return decoder.decode(body)
    except msgspec.DecodeError as exc:
        raise error(f"malformed {what} body: {exc}") from exc
    except RecursionError as exc:
        # msgspec walks nested arrays and objects recursively, even those it passes through.
        raise error(f"malformed {what} body: nested too deeply") from exc


def _stored_body(stored: StoredValue | None) -> StateBody:
    if stored is None:
        return StateBody()
    expires = None if stored.expires_at is None else stored.expires_at.isoformat()
    if stored.ref_backend is not None:
        return StateBody(
            ref=stored.data,
            backend=stored.ref_backend,
            version=stored.version,
            expires_at=expires,
            written_by=stored.written_by,
            encryption=stored.encryption,
        )
    return StateBody(
        value=msgspec.Raw(stored.data.encode()),
        version=stored.version,
        expires_at=expires,
        written_by=stored.written_by,
        encryption=stored.encryption,
    )


def _stored_response(stored: StoredValue | None) -> Response:
    response = json_response(_stored_body(stored))
    if stored is not None and stored.version:
        response.headers["etag"] = etag(stored.version)
    return response


def _fence(claims: TokenClaims) -> TryFence:
    return TryFence(claims.ti_id, claims.try_number)


async def _claimed(
    state: AppState, scope: StateScope, removed: list[StoredValue]
) -> tuple[str | None, list[StoredValue]]:
    """Claim the references a task removed (queued by the backend's writing statement, or
    here for a backend that does not queue), so that it purges their objects; those another
    purger holds, or that a row names again, are left out."""
    refs = [s for s in removed if s.ref_backend is not None]
    if not refs:
        return None, []
    kind: StateKind = "task" if type(scope) is TaskScope else "asset"
    await purge.enqueue(state, kind, refs)
    claim, granted = await purge.claim_refs(state, kind, [s.data for s in refs])
    chosen = set(granted)
    return claim, [s for s in refs if s.data in chosen]


async def _removed_body(
    state: AppState, scope: StateScope, removed: list[StoredValue]
) -> RemovedRefsBody:
    claim, refs = await _claimed(state, scope, removed)
    return RemovedRefsBody(
        refs=[RefBody(ref=s.data, backend=s.ref_backend) for s in refs if s.ref_backend],
        claim=claim,
    )


async def _set(
    state: AppState,
    claims: TokenClaims,
    scope: StateScope,
    key: str,
    body: bytes,
    if_version: int | None,
) -> Response:
    # A body that is not JSON (NaN included) is a bad value, as on the public API.
    parsed = decode_body(body, _state_body, "state", InvalidValueError)
    # The writer is the token's task instance and try: no caller can claim another.
    retention, writer, key_id = parsed.retention, claims.written_by, parsed.encryption
    fence = _fence(claims)
    if parsed.ref is not None:
        if parsed.value is not msgspec.UNSET or parsed.backend is None:
            raise InvalidValueError("send either a value, or a ref with the backend that wrote it")
        stored = await state.state.set_ref(
            scope,
            key,
            parsed.ref,
            parsed.backend,
            retention=retention,
            written_by=writer,
            if_version=if_version,
            fence=fence,
            encryption=key_id,
            restored_after=parsed.restored_after,
        )
    elif parsed.value is not msgspec.UNSET:
        data = bytes(parsed.value)
        stored = await state.state.set_value(
            scope,
            key,
            data,
            retention=retention,
            written_by=writer,
            if_version=if_version,
            fence=fence,
            encryption=key_id,
        )
    else:
        raise InvalidValueError("the body must hold a value or a ref")
    response = Response(status_code=204)
    if parsed.ref is not None:
        # The object this set replaced (queued by the write itself) is the task's to purge.
        kind: StateKind = "task" if type(scope) is TaskScope else "asset"
        owner = scope.name if isinstance(scope, AssetScope) else claims.ti_id
        claim, refs = await purge.claim_replaced(state, kind, owner, key, parsed.ref)
        if claim is not None:
            replaced = RemovedRefsBody(
                refs=[RefBody(ref=r, backend=b) for r, b in refs], claim=claim
            )
            response = Response(_encode(replaced), media_type="application/json")
    if stored.version:
        # The version rides on the answer, as HTTP's ETag: no body to encode or parse.
        response.headers["etag"] = etag(stored.version)
    return response


def _dag_run_body(run: DagRun) -> DagRunInfo[msgspec.Raw]:
    def iso(moment: datetime | None) -> str | None:
        return None if moment is None else moment.isoformat()

    return DagRunInfo(
        logical_date=iso(run.logical_date),
        data_interval_start=iso(run.data_interval_start),
        data_interval_end=iso(run.data_interval_end),
        conf=msgspec.Raw((run.conf or "{}").encode()),
        start_date=run.created_at.isoformat(),
    )


# -- task-instance lifecycle ----------------------------------------------------------------


@router.post("/task-instances/{ti_id}/start")
async def start(ti_id: str, request: Request) -> Response:
    state = app_state(request)
    _claims(request, state).require_ti(ti_id)
    parsed = decode_body(await request.body(), _start_body, "start")
    if not 0 <= parsed.pid <= INT32_MAX:
        raise UsageError(f"malformed start body: pid {parsed.pid} is not a process id")

    def transition(session: Session) -> StartResponse:
        ti = runs.start_ti(session, ti_id, pid=parsed.pid, hostname=parsed.hostname)
        assets = runs.asset_roles(session, ti_id)
        run = runs.get_run(session, ti.dag_id, ti.run_id)
        return StartResponse(
            ti=TaskInstanceInfo(
                id=ti.id,
                dag_id=ti.dag_id,
                run_id=ti.run_id,
                task_id=ti.task_id,
                map_index=ti.map_index,
                try_number=ti.try_number,
            ),
            assets=[
                AssetInfo(name=name, uri=uri, inlet="inlet" in roles, outlet="outlet" in roles)
                for name, (uri, roles) in assets.items()
            ],
            max_value_bytes=state.settings.state_store.max_value_bytes,
            dag_run=_dag_run_body(run),
        )

    started = await in_transaction(state, transition)
    await state.state.backend.arecord_try(ti_id, started.ti.try_number, "running")
    return json_response(started)


@router.post("/task-instances/{ti_id}/heartbeat")
async def heartbeat(ti_id: str, request: Request) -> Response:
    state = app_state(request)
    claims = _claims(request, state)
    claims.require_ti(ti_id)
    # A try that has ended, or that a later try has overtaken, gets no fresh token.
    ti_state = await in_transaction(
        state, lambda session: runs.require_running_try(session, ti_id, claims.try_number).state
    )
    token = state.signer.issue(ti_id, claims.scope, claims.assets, try_number=claims.try_number)
    return json_response(HeartbeatResponse(token=token, state=ti_state))


@router.post("/task-instances/{ti_id}/finish")
async def finish(ti_id: str, request: Request) -> Response:
    state = app_state(request)
    claims = _claims(request, state)
    claims.require_ti(ti_id)
    parsed = decode_body(await request.body(), _finish_body, "finish")
    succeeded = parsed.state == "success"

    # A backend that fences from state of its own stops the try's writes first.
    await state.state.backend.arecord_try(ti_id, claims.try_number, "ended")
    final = await in_transaction(
        state,
        lambda session: (
            runs.finish_ti(
                session,
                ti_id,
                state=parsed.state,
                retry=parsed.retry,
                try_number=claims.try_number,
                reason=parsed.reason,
            ).state
        ),
    )
    if succeeded and state.settings.state_store.clear_on_success:
        # The task process is gone: the objects its references name wait in the purge queue.
        await purge.enqueue(state, "task", await state.state.clear(claims.scope))
    return json_response(FinishResponse(state=final))


# -- task state and asset state: the hot path ----------------------------------------------
# Plain Starlette endpoints (``request`` only): FastAPI's per-request parameter solving would
# cost more than the rest of the handler.


def _scope(request: Request, state: AppState) -> tuple[TokenClaims, StateScope]:
    """The token's claims and the scope the path names: its task instance (``/state/ti/{ti_id}``,
    which must be the token's) or an asset its task declares (``/state/asset?name=``)."""
    claims = _claims(request, state)
    ti_id = request.path_params.get("ti_id")
    if ti_id is not None:
        claims.require_ti(ti_id)
        return claims, claims.scope
    params = request.query_params
    return claims, claims.asset_scope(params.get("name"), params.get("uri"))


async def get_state(request: Request) -> Response:
    state = app_state(request)
    _, scope = _scope(request, state)
    return _stored_response(await state.state.get(scope, request.path_params["key"]))


async def set_state(request: Request) -> Response:
    state = app_state(request)
    claims, scope = _scope(request, state)
    key, if_version = request.path_params["key"], if_version_of(request)
    return await _set(state, claims, scope, key, await request.body(), if_version)


async def delete_state(request: Request) -> Response:
    state = app_state(request)
    claims, scope = _scope(request, state)
    removed = await state.state.delete(
        scope, request.path_params["key"], if_version=if_version_of(request), fence=_fence(claims)
    )
    body = _stored_body(removed)
    if removed is not None and removed.ref_backend is not None:
        body.claim, granted = await _claimed(state, scope, [removed])
        if not granted:  # another purger holds it, or a row names it again: not this task's
            body = StateBody()
    return json_response(body)


async def clear_state(request: Request) -> Response:
    state = app_state(request)
    claims, scope = _scope(request, state)
    removed = await state.state.clear(scope, fence=_fence(claims))
    return json_response(await _removed_body(state, scope, removed))


async def purged(request: Request) -> Response:
    """The objects of a claim are gone: its entries become tombstones (see ``api.purge``)."""
    state = app_state(request)
    _claims(request, state)
    claim = request.path_params["claim"]
    if not _CLAIM.fullmatch(claim):
        raise UsageError(f"not a purge claim: {claim[:80]!r}")
    return json_response(PurgedBody(purged_through=await purge.release(state, claim)))


Endpoint = Callable[[Request], Awaitable[Response]]


def _by_method(handlers: dict[str, Endpoint]) -> Endpoint:
    """One endpoint per path, so a wrong method answers 405 with every allowed one."""

    async def endpoint(request: Request) -> Response:
        return await handlers[request.method](request)

    return endpoint


def _route(path: str, handlers: dict[str, Endpoint]) -> Route:
    if "GET" in handlers:
        # Starlette allows HEAD wherever GET is; uvicorn sends the headers only.
        handlers = {**handlers, "HEAD": handlers["GET"]}
    return Route(router.prefix + path, _by_method(handlers), methods=list(handlers))


_KEY_OPERATIONS: dict[str, Endpoint] = {"GET": get_state, "PUT": set_state, "DELETE": delete_state}

STATE_ROUTES = [
    _route("/state/ti/{ti_id}/{key:state_key}", _KEY_OPERATIONS),
    _route("/state/ti/{ti_id}", {"DELETE": clear_state}),
    _route("/state/asset/{key:state_key}", _KEY_OPERATIONS),
    _route("/state/asset", {"DELETE": clear_state}),
    _route("/state/purged/{claim}", {"POST": purged}),
]
"""The hot path, served by a bare Starlette app in front of FastAPI (see ``api.app``)."""
