"""Asset events: what a successful try records on the assets it writes, read by later tasks.

A try that succeeds records one event per asset its task declares as an outlet, each with its
``extra`` (a JSON object: ``outlet_events[asset].extra``, ``yield Metadata(...)``), as Airflow 3
does. The task process sends them, through its supervisor, as its last request:
``POST /execution/task-instances/{ti_id}/asset-events``. The server stores them only while the
token's try is running, and only on assets the task instance declares as outlets; an event on
any other asset refuses the whole batch. An event added through an asset alias
(``outlet_events[alias].add(asset)``) may be on any asset, named by name and uri and registered
if it is new, as Airflow 3 registers it; but only through an alias the task instance declares
as an outlet, so a token can still write only what its task declares or its aliases resolve to.
Should the try still end otherwise (the process died after sending them), ``runs.finish_ti``
removes them again in the transaction that ends the try, so only tries that succeeded
leave events behind.

``GET /execution/asset-events?name=`` (or ``?uri=``) reads the events of an asset the token's
task declares, inlet or outlet (``inlet_events``): oldest first unless ``ascending=false``,
filtered by time (``after``, ``before``) and bounded by ``limit``.

The public API lists assets with their event counts (``GET /api/v1/assets``) and an asset's
events, newest first, a page at a time (``GET /api/v1/assets/{name}/events?limit=&before_id=``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import msgspec
from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from taskstate.api import runs
from taskstate.api.app import app_state, in_transaction
from taskstate.api.auth import token_claims
from taskstate.api.bounds import INT32_MAX, INT32_MIN
from taskstate.api.execution import decode_body, json_response
from taskstate.api.public import require_api_key
from taskstate.contracts.http import (
    AssetEventBody,
    AssetEventsBody,
    RecordAssetEventsBody,
)
from taskstate.contracts.types import AssetInfo
from taskstate.db.models import (
    Asset,
    AssetEvent,
    AssetRole,
    TaskInstance,
    TaskInstanceAsset,
    utcnow,
)
from taskstate.errors import InvalidValueError, UndeclaredAssetError, UsageError
from taskstate.state.codec import decode_value, validate_encoded_value

__all__ = [
    "MAX_PAGE",
    "NewEvent",
    "execution_router",
    "public_router",
    "read_events",
    "record_events",
]

execution_router = APIRouter(prefix="/execution", tags=["execution"])
public_router = APIRouter(
    prefix="/api/v1", tags=["public"], dependencies=[Depends(require_api_key)]
)

MAX_PAGE = 1000
"""The most events one page of the public API holds."""

_record_body = msgspec.json.Decoder(RecordAssetEventsBody)


def _outlets(session: Session, ti_id: str) -> dict[str, int]:
    """Name → id of the assets the task instance declares as outlets."""
    rows = session.execute(
        select(Asset.name, Asset.id)
        .join(TaskInstanceAsset, TaskInstanceAsset.asset_id == Asset.id)
        .where(TaskInstanceAsset.ti_id == ti_id, TaskInstanceAsset.role == AssetRole.OUTLET)
    )
    return {name: asset_id for name, asset_id in rows}


def _checked_extra(data: bytes, asset: str, max_bytes: int) -> str:
    validate_encoded_value(data, max_bytes=max_bytes)
    if not isinstance(decode_value(data), dict):
        raise InvalidValueError(
            f"the extra of an event on asset {asset!r} must be a JSON object",
            detail={"asset": asset},
        )
    return data.decode()


@dataclass(frozen=True)
class NewEvent:
    """An event a try records: on an outlet of its task, or through one of its ``alias``es on
    the asset named ``asset`` with ``uri``. ``extra`` is the JSON text of an object."""

    asset: str
    extra: str
    uri: str | None = None
    alias: str | None = None


def _asset_ids(session: Session, ti: TaskInstance, events: list[NewEvent]) -> list[int]:
    """The asset of each event, checked against what the task instance declares; assets named
    through its aliases are registered if new."""
    outlets = _outlets(session, ti.id)
    aliases = runs.alias_names(session, ti.id) if any(e.alias for e in events) else set()
    found: list[int] = []
    for event in events:
        if event.alias is None:
            if event.asset not in outlets:
                raise UndeclaredAssetError(
                    f"task {ti.task_id!r} does not declare asset {event.asset!r} as an outlet; "
                    f"only its outlets ({', '.join(sorted(outlets)) or 'none'}) can have events "
                    "recorded",
                    detail={"asset": event.asset},
                )
            found.append(outlets[event.asset])
            continue
        if event.alias not in aliases:
            raise UndeclaredAssetError(
                f"task {ti.task_id!r} does not declare asset alias {event.alias!r} as an "
                "outlet; events can be added only through the aliases it declares",
                detail={"asset": event.asset, "alias": event.alias},
            )
        if event.uri is None:
            raise InvalidValueError(
                f"an event added through asset alias {event.alias!r} names its asset's uri",
                detail={"asset": event.asset, "alias": event.alias},
            )
        found.append(runs.get_or_create_asset(session, runs.AssetSpec(event.asset, event.uri)).id)
    return found


def record_events(session: Session, ti_id: str, try_number: int, events: list[NewEvent]) -> int:
    """Store ``events`` of try ``try_number``, which must be running; each must be on an outlet
    of the task instance or added through an alias it declares. How many were stored."""
    ti = runs.require_running_try(session, ti_id, try_number)
    asset_ids = _asset_ids(session, ti, events)
    now = utcnow()
    session.add_all(
        AssetEvent(
            asset_id=asset_id,
            extra=event.extra,
            source_ti_id=ti.id,
            source_dag_id=ti.dag_id,
            source_run_id=ti.run_id,
            source_task_id=ti.task_id,
            source_map_index=ti.map_index,
            created_at=now,
        )
        for asset_id, event in zip(asset_ids, events, strict=True)
    )
    return len(events)


def _parse_time(text: str | None, what: str) -> datetime | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise UsageError(f"{what} must be an ISO 8601 date and time, not {text!r}") from exc
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def read_events(
    session: Session,
    asset: str,
    *,
    ascending: bool = True,
    limit: int | None = None,
    after: datetime | None = None,
    before: datetime | None = None,
    before_id: int | None = None,
) -> list[tuple[AssetEvent, Asset]]:
    """Events of the asset named ``asset``, in recording order (newest first unless
    ``ascending``), recorded after ``after`` and before ``before`` or event ``before_id``."""
    query = select(AssetEvent, Asset).join(Asset, Asset.id == AssetEvent.asset_id)
    query = query.where(Asset.name == asset)
    if after is not None:
        query = query.where(AssetEvent.created_at > after)
    if before is not None:
        query = query.where(AssetEvent.created_at < before)
    if before_id is not None:
        query = query.where(AssetEvent.id < before_id)
    query = query.order_by(AssetEvent.id.asc() if ascending else AssetEvent.id.desc())
    if limit is not None:
        query = query.limit(limit)
    return [(event, owner) for event, owner in session.execute(query)]


def _iso(moment: datetime) -> str:
    return moment.isoformat()


# -- execution API -------------------------------------------------------------------------------


@execution_router.post("/task-instances/{ti_id}/asset-events", status_code=204)
async def record_asset_events(ti_id: str, request: Request) -> Response:
    state = app_state(request)
    claims = token_claims(request.headers.get("authorization"), state.signer)
    claims.require_ti(ti_id)
    parsed = decode_body(await request.body(), _record_body, "asset events", InvalidValueError)
    limit = state.settings.state_store.max_value_bytes
    events = [
        NewEvent(e.asset, _checked_extra(bytes(e.extra), e.asset, limit), e.uri, e.alias)
        for e in parsed.events
    ]
    await in_transaction(
        state, lambda session: record_events(session, ti_id, claims.try_number, events)
    )
    return Response(status_code=204)


@execution_router.get("/asset-events")
async def get_asset_events(
    request: Request,
    name: str | None = None,
    uri: str | None = None,
    limit: int | None = Query(default=None, ge=0, le=INT32_MAX),
    ascending: bool = True,
    after: str | None = None,
    before: str | None = None,
) -> Response:
    state = app_state(request)
    asset = token_claims(request.headers.get("authorization"), state.signer).asset_scope(name, uri)
    since, until = _parse_time(after, "after"), _parse_time(before, "before")

    def work(session: Session) -> AssetEventsBody:
        found = read_events(
            session, asset.name, ascending=ascending, limit=limit, after=since, before=until
        )
        return AssetEventsBody(
            events=[
                AssetEventBody(
                    id=event.id,
                    asset=AssetInfo(name=owner.name, uri=owner.uri),
                    extra=msgspec.Raw(event.extra.encode()),
                    source_dag_id=event.source_dag_id,
                    source_run_id=event.source_run_id,
                    source_task_id=event.source_task_id,
                    source_map_index=event.source_map_index,
                    timestamp=_iso(event.created_at),
                )
                for event, owner in found
            ]
        )

    return json_response(await in_transaction(state, work))


# -- public API ----------------------------------------------------------------------------------


def _public_event(event: AssetEvent, owner: Asset) -> dict[str, Any]:
    return {
        "id": event.id,
        "asset": owner.name,
        "uri": owner.uri,
        "extra": decode_value(event.extra),
        "source_dag_id": event.source_dag_id,
        "source_run_id": event.source_run_id,
        "source_task_id": event.source_task_id,
        "source_map_index": event.source_map_index,
        "timestamp": _iso(event.created_at),
    }


@public_router.get("/assets")
async def list_assets(request: Request) -> list[dict[str, Any]]:
    """Every asset, with how many events it has and when the last was recorded."""

    def work(session: Session) -> list[dict[str, Any]]:
        counts = (
            select(
                AssetEvent.asset_id,
                func.count().label("events"),
                func.max(AssetEvent.created_at).label("last_event_at"),
            )
            .group_by(AssetEvent.asset_id)
            .subquery()
        )
        rows = session.execute(
            select(Asset.name, Asset.uri, counts.c.events, counts.c.last_event_at)
            .outerjoin(counts, counts.c.asset_id == Asset.id)
            .order_by(Asset.name)
        )
        return [
            {
                "name": name,
                "uri": uri,
                "events": events or 0,
                "last_event_at": None if last is None else _aware(last).isoformat(),
            }
            for name, uri, events, last in rows
        ]

    return await in_transaction(app_state(request), work)


def _aware(moment: datetime) -> datetime:
    # An aggregate's result is not passed through the column's type: SQLite's comes back naive.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


@public_router.get("/assets/{name:path}/events")
async def list_asset_events(
    name: str,
    request: Request,
    limit: int = Query(default=100, ge=1, le=MAX_PAGE),
    before_id: int | None = Query(default=None, ge=INT32_MIN, le=INT32_MAX),
) -> list[dict[str, Any]]:
    """The asset's events, newest first; the next page starts ``before_id`` the last one."""

    def work(session: Session) -> list[dict[str, Any]]:
        runs.resolve_asset(session, name, None)
        found = read_events(session, name, ascending=False, limit=limit, before_id=before_id)
        return [_public_event(event, owner) for event, owner in found]

    return await in_transaction(app_state(request), work)
