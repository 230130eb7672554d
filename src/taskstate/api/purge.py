"""The purge queue: references removed where no worker-side backend runs.

The public API's delete and clear, the server's ``clear_on_success`` and the clean-up of
expired keys remove rows whose objects live in a worker's storage, which the API server can
neither reach nor hold credentials for. Their references are queued here; ``taskstate state
purge``, run where the worker backend is configured, removes the objects and then the queue
entries.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from taskstate.api.app import AppState, in_transaction
from taskstate.db.models import PurgeEntry, utcnow
from taskstate.state.types import StateKind, StoredValue

__all__ = ["acknowledge", "add_to_queue", "claim", "enqueue", "pending"]


def add_to_queue(session: Session, refs: Iterable[tuple[StateKind, StoredValue]]) -> int:
    """Queue references in the caller's transaction; return how many were queued."""
    now = utcnow()
    entries = [
        PurgeEntry(kind=kind, ref=r.data, ref_backend=r.ref_backend, created_at=now)
        for kind, r in refs
        if r.ref_backend is not None
    ]
    session.add_all(entries)
    return len(entries)


async def enqueue(state: AppState, kind: StateKind, removed: Sequence[StoredValue | None]) -> int:
    """Queue the references among ``removed``; return how many were queued."""
    refs = [(kind, r) for r in removed if r is not None and r.ref_backend is not None]
    if not refs:
        return 0
    return await in_transaction(state, lambda session: add_to_queue(session, refs))


async def pending(state: AppState, limit: int, after: int = 0) -> list[dict[str, Any]]:
    """Up to ``limit`` entries with ids above ``after``, oldest first."""

    def work(session: Session) -> list[dict[str, Any]]:
        query = select(PurgeEntry).where(PurgeEntry.id > after).order_by(PurgeEntry.id)
        return [_body(e) for e in session.scalars(query.limit(limit))]

    return await in_transaction(state, work)


async def claim(state: AppState, ids: Sequence[int]) -> tuple[list[dict[str, Any]], int]:
    """The entries among ``ids`` whose objects may be purged now, and how many were superseded.

    References are often deterministic (a key names the same object every time it is set), so
    a key deleted and then set again before the purge runs names its object once more. Such an
    entry is superseded: it is dropped from the queue and its object stays. Entries of a backend
    that cannot look references up are all returned. Asking per entry, just before its purge,
    leaves a race only with a ``set`` of the same key that completes in the moments between.
    """

    def load(session: Session) -> list[PurgeEntry]:
        query = select(PurgeEntry).where(PurgeEntry.id.in_(ids)).order_by(PurgeEntry.id)
        return list(session.scalars(query))

    entries = await in_transaction(state, load)
    live: set[int] = set()
    for backend in {e.ref_backend for e in entries}:
        mine = [e for e in entries if e.ref_backend == backend]
        found = await state.state.find_refs(backend, [e.ref for e in mine])
        live.update(e.id for e in mine if found is not None and e.ref in found)
    if live:

        def drop(session: Session) -> None:
            session.execute(delete(PurgeEntry).where(PurgeEntry.id.in_(live)))

        await in_transaction(state, drop)
    claimed = [_body(e) for e in entries if e.id not in live]
    return claimed, len(live)


def _body(entry: PurgeEntry) -> dict[str, Any]:
    return {"id": entry.id, "kind": entry.kind, "ref": entry.ref, "backend": entry.ref_backend}


async def acknowledge(state: AppState, entry_id: int) -> bool:
    """Remove a queue entry once its object is purged; False if it was already gone."""

    def work(session: Session) -> bool:
        result = session.execute(delete(PurgeEntry).where(PurgeEntry.id == entry_id))
        return bool(result.rowcount)  # type: ignore[attr-defined]

    return await in_transaction(state, work)
