"""The purge queue: references removed where no worker-side backend runs.

The public API's delete and clear, and the server's ``clear_on_success``, remove rows whose
objects live in a worker's storage, which the API server can neither reach nor hold credentials
for. Their references are queued here; ``taskstate state purge``, run where the worker backend
is configured, removes the objects and then the queue entries.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from taskstate.api.app import AppState, in_transaction
from taskstate.db.models import PurgeEntry, utcnow
from taskstate.state.types import StoredValue

__all__ = ["acknowledge", "enqueue", "pending"]

Kind = Literal["task", "asset"]


async def enqueue(state: AppState, kind: Kind, removed: Sequence[StoredValue | None]) -> int:
    """Queue the references among ``removed``; return how many were queued."""
    refs = [r for r in removed if r is not None and r.ref_backend is not None]
    if not refs:
        return 0
    now = utcnow()

    def work(session: Session) -> None:
        session.add_all(
            PurgeEntry(kind=kind, ref=r.data, ref_backend=r.ref_backend, created_at=now)
            for r in refs
        )

    await in_transaction(state, work)
    return len(refs)


async def pending(state: AppState, limit: int, after: int = 0) -> list[dict[str, Any]]:
    """Up to ``limit`` entries with ids above ``after``, oldest first."""

    def work(session: Session) -> list[dict[str, Any]]:
        query = select(PurgeEntry).where(PurgeEntry.id > after).order_by(PurgeEntry.id)
        rows = session.scalars(query.limit(limit))
        return [{"id": e.id, "kind": e.kind, "ref": e.ref, "backend": e.ref_backend} for e in rows]

    return await in_transaction(state, work)


async def acknowledge(state: AppState, entry_id: int) -> bool:
    """Remove a queue entry once its object is purged; False if it was already gone."""

    def work(session: Session) -> bool:
        result = session.execute(delete(PurgeEntry).where(PurgeEntry.id == entry_id))
        return bool(result.rowcount)  # type: ignore[attr-defined]

    return await in_transaction(state, work)
