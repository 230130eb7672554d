"""The purge queue: objects that no reference names any more, and the claims of their purgers.

**Queueing.** Whatever replaces or removes a reference queues it in the same transaction: the
metastore's triggers do it for every statement (a task's set, delete and clear, the public
API, clean-up, run deletion, ``clear_on_success``), and for a backend outside the database
(``queues_purges`` false, e.g. Redis) the API server queues what ``set``, ``delete`` and
``clear`` returned (:func:`enqueue`).

**Purging.** A purger (the task process after its own delete or clear, or ``taskstate state
purge`` where the worker backend runs) first *claims* entries (:func:`claim` by id,
:func:`claim_refs` by reference): a claim is granted only while no row names the reference
(on PostgreSQL under the same advisory lock a ``set`` of that reference takes), lasts
``[state_store] purge_claim_seconds``, and an entry whose reference is live again is dropped
(superseded), its object kept. Then the purger removes the objects and *releases* the claim
(:func:`release`): each entry becomes a tombstone numbered from one sequence.

**Why no acknowledged write is lost.** A task stores its object before it writes the reference,
so a purge of the same reference (a backend whose references are the same for every write of a
key) may run in between. The ``set`` statement is refused (``PurgePendingError``) while a claim
holds the reference, or when a purge numbered above the writer's ``restored_after`` removed it;
the writer then stores its object again and retries, naming the newest purge it saw. A purge
that starts after the reference is written finds it live and is not granted. Tombstones are
kept for :data:`TOMBSTONE_SECONDS`, longer than any write takes from object to reference. A
claim that lapses (its purger died) may be taken again; a purger stalled past its claim is the
one case this cannot cover, so the claim is long and the purge of one entry is short.

**Outside the database.** Redis shares no transaction with the queue, so a backend there that
guards purges (``guards_purges``) takes the claim of each reference first, in its own atomic
step with its check that no value names it and with the guard of its ``set``; then the queue's
entries are claimed, and on release the backend numbers the purges itself (those are the
numbers its sets compare). See :mod:`taskstate.backends._redis_purges`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any, cast

from sqlalchemy import (
    ColumnElement,
    Table,
    and_,
    delete,
    exists,
    func,
    literal,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session

from taskstate.api.app import AppState, in_transaction
from taskstate.backends._purge_guard import lock_statement, now_seconds, queue_table
from taskstate.db.models import REF_PREFIX_CHARS, AssetState, PurgeEntry, TaskState, utcnow
from taskstate.state.backend import ClaimAnswer
from taskstate.state.types import StateKind, StoredValue

__all__ = [
    "TOMBSTONE_SECONDS",
    "add_to_queue",
    "claim",
    "claim_refs",
    "claim_replaced",
    "drop_tombstones",
    "enqueue",
    "pending",
    "release",
]

TOMBSTONE_SECONDS = 24 * 3600
"""How long a finished purge is remembered against writes that stored their object before it."""

_q = queue_table.c
_STATE_TABLES = (cast(Table, TaskState.__table__), cast(Table, AssetState.__table__))


def add_to_queue(
    session: Session,
    refs: Iterable[tuple[StateKind, StoredValue]],
    *,
    owner: str | None = None,
    key: str | None = None,
) -> int:
    """Queue references in the caller's transaction; return how many were queued."""
    now = utcnow()
    entries = [
        PurgeEntry(
            kind=kind, ref=r.data, ref_backend=r.ref_backend, created_at=now, owner=owner, key=key
        )
        for kind, r in refs
        if r.ref_backend is not None
    ]
    session.add_all(entries)
    return len(entries)


async def enqueue(state: AppState, kind: StateKind, removed: Sequence[StoredValue | None]) -> int:
    """Queue the references among ``removed`` unless the backend queued them itself; return
    how many there are."""
    refs = [(kind, r) for r in removed if r is not None and r.ref_backend is not None]
    if refs and not state.state.backend.queues_purges:
        await in_transaction(state, lambda session: add_to_queue(session, refs))
    return len(refs)


async def pending(state: AppState, limit: int, after: int = 0) -> list[dict[str, Any]]:
    """Up to ``limit`` entries not purged yet with ids above ``after``, oldest first."""

    def work(session: Session) -> list[dict[str, Any]]:
        query = (
            select(PurgeEntry)
            .where(PurgeEntry.id > after, PurgeEntry.purged_seq.is_(None))
            .order_by(PurgeEntry.id)
        )
        return [_body(e) for e in session.scalars(query.limit(limit))]

    return await in_transaction(state, work)


def _claimable(now: int) -> ColumnElement[bool]:
    return _q.purged_seq.is_(None) & or_(_q.claim.is_(None), _q.claimed_until < now)


def _live() -> ColumnElement[bool]:
    """A state row (expired or not) still names the entry's reference."""
    named = [
        exists(
            select(literal(1)).where(
                t.c.ref_backend == _q.ref_backend,
                func.substr(t.c.data, 1, REF_PREFIX_CHARS)
                == func.substr(_q.ref, 1, REF_PREFIX_CHARS),
                t.c.data == _q.ref,
            )
        )
        for t in _STATE_TABLES
    ]
    return or_(*named)


def _claim_ids(
    session: Session, token: str, ids: list[int], seconds: int, live_refs: frozenset[str] | None
) -> tuple[str, list[dict[str, Any]], int]:
    """Claim the claimable entries among ``ids`` whose references no row names; drop the
    others that a row names again. ``live_refs``: the named references, for a backend outside
    the database (None: ask the state tables, in this transaction)."""
    now = now_seconds()
    if session.get_bind().dialect.name == "postgresql":
        refs = session.scalars(select(_q.ref).where(_q.id.in_(ids)).distinct()).all()
        for ref in sorted(refs):
            session.execute(lock_statement(), {"lock_ref": ref})
    among = _q.id.in_(ids) & _claimable(now)
    if live_refs is None:
        free, named = ~_live(), _live()
    else:
        free, named = _q.ref.not_in(live_refs), _q.ref.in_(live_refs)
    claimed = session.execute(
        update(queue_table)
        .where(among, free)
        .values(claim=token, claimed_until=now + seconds)
        .returning(_q.id, _q.kind, _q.ref, _q.ref_backend, _q.owner, _q.key)
        .execution_options(synchronize_session=False)
    ).all()
    superseded = session.execute(
        delete(queue_table).where(among, named).execution_options(synchronize_session=False)
    )
    entries = [
        {"id": r[0], "kind": r[1], "ref": r[2], "backend": r[3], "owner": r[4], "key": r[5]}
        for r in sorted(claimed)
    ]
    return token, entries, int(superseded.rowcount or 0)  # type: ignore[attr-defined]


def _entry_refs(session: Session, where: ColumnElement[bool]) -> list[tuple[int, str, str]]:
    rows = session.execute(select(_q.id, _q.ref_backend, _q.ref).where(where).order_by(_q.id))
    return [(r[0], r[1], r[2]) for r in rows]


async def _claim_outside(
    state: AppState, token: str, ids: Sequence[int], seconds: int
) -> tuple[list[int], frozenset[str], set[tuple[str, str]]]:
    """For a backend outside the database: the entries among ``ids`` to claim in the queue, the
    references a value still names, and those the backend granted to ``token``.

    A backend that guards purges (Redis) claims them itself first, atomically with its own
    check that no value names them; one that does not is asked which it still holds.
    """
    backend = state.state.backend
    now = now_seconds()
    rows = await in_transaction(
        state, lambda s: _entry_refs(s, _q.id.in_(list(ids)) & _claimable(now))
    )
    pairs = sorted({(b, r) for _, b, r in rows})
    if backend.guards_purges:
        answers = await backend.aclaim_purges(  # type: ignore[attr-defined]
            token, pairs, seconds=seconds, remember=TOMBSTONE_SECONDS
        )
        answer = dict(zip(pairs, answers, strict=True))
        chosen = [i for i, b, r in rows if answer[(b, r)] != ClaimAnswer.HELD]
        live = frozenset(r for (_, r), a in answer.items() if a == ClaimAnswer.LIVE)
        granted = {p for p, a in answer.items() if a == ClaimAnswer.GRANTED}
        return chosen, live, granted
    found: set[str] = set()
    for name in {b for b, _ in pairs}:
        named = await state.state.find_refs(name, [r for b, r in pairs if b == name])
        found.update(named or ())
    return [i for i, _, _ in rows], frozenset(found), set()


async def claim(state: AppState, ids: Sequence[int]) -> tuple[str, list[dict[str, Any]], int]:
    """Claim entries by id for a purge: the claim, the entries granted, how many were
    superseded (a row names their reference again: dropped, their objects kept)."""
    seconds = state.settings.state_store.purge_claim_seconds
    token = str(uuid.uuid4())
    backend = state.state.backend
    if backend.queues_purges:
        return await in_transaction(state, lambda s: _claim_ids(s, token, list(ids), seconds, None))
    chosen, live, granted = await _claim_outside(state, token, ids, seconds)
    token, entries, superseded = await in_transaction(
        state, lambda s: _claim_ids(s, token, chosen, seconds, live)
    )
    # Granted by the backend, but another purger took the queue entry first: let them go.
    unused = granted - {(e["backend"], e["ref"]) for e in entries}
    if unused:
        await backend.arelease_purges(  # type: ignore[attr-defined]
            token, sorted(unused), remember=TOMBSTONE_SECONDS
        )
    return token, entries, superseded


async def claim_refs(
    state: AppState, kind: StateKind, refs: Sequence[str]
) -> tuple[str | None, list[str]]:
    """Claim the queued entries of ``refs`` (what a task's delete or clear just removed): the
    claim (None if nothing was granted) and the references the caller may now purge."""
    if not refs:
        return None, []
    now = now_seconds()

    def ids_of(session: Session) -> list[int]:
        prefixes = {r[:REF_PREFIX_CHARS] for r in refs}
        query = select(_q.id).where(
            _q.kind == kind,
            func.substr(_q.ref, 1, REF_PREFIX_CHARS).in_(prefixes),
            _q.ref.in_(list(refs)),
            _claimable(now),
        )
        return list(session.scalars(query))

    ids = await in_transaction(state, ids_of)
    if not ids:
        return None, []
    token, entries, _ = await claim(state, ids)
    granted = sorted({e["ref"] for e in entries})
    return (token if granted else None), granted


async def claim_replaced(
    state: AppState, kind: StateKind, owner: str, key: str, written: str
) -> tuple[str | None, list[tuple[str, str]]]:
    """Claim what a task's set of ``key`` to the reference ``written`` replaced (queued by the
    metastore's triggers), and what earlier deletes of the key left queued: the claim (None if
    nothing was granted) and the references the caller may now purge. An entry of ``written``
    itself is a later delete's, for that deleter or the drain."""
    if not state.state.backend.queues_purges:
        return None, []
    now = now_seconds()

    def ids_of(session: Session) -> list[int]:
        query = select(_q.id).where(
            _q.key == key,
            func.substr(_q.owner, 1, 200) == owner[:200],
            _q.owner == owner,
            _q.kind == kind,
            _q.ref != written,
            _claimable(now),
        )
        return list(session.scalars(query))

    ids = await in_transaction(state, ids_of)
    if not ids:
        return None, []
    token, entries, _ = await claim(state, ids)
    granted = sorted({(e["ref"], e["backend"]) for e in entries})
    return (token if granted else None), granted


async def release(state: AppState, token: str, ids: Sequence[int] | None = None) -> int:
    """The objects of claim ``token`` (only those of entries ``ids``, when given) are gone:
    their entries become tombstones, numbered in the order purges finish. Returns the newest
    purge number (0 if the claim held nothing). For a backend outside the database that guards
    purges, the numbers are its own: those its sets compare with ``restored_after``."""

    def work(session: Session) -> tuple[int, list[tuple[int, str, str]]]:
        held = _q.claim == token
        if ids is not None:
            held = held & _q.id.in_(list(ids))
        entries = _entry_refs(session, held)
        if not entries:
            return 0, []
        postgresql = session.get_bind().dialect.name == "postgresql"
        now = now_seconds()
        last = 0
        for entry_id, _, _ in entries:
            if postgresql:
                last = int(session.execute(text("SELECT nextval('purge_seq')")).scalar_one())
            else:  # SQLite serialises writers: the next number is the largest plus one
                top = session.execute(select(func.max(_q.purged_seq))).scalar()
                last = int(top or 0) + 1
            session.execute(
                update(queue_table)
                .where(_q.id == entry_id)
                .values(purged_seq=last, claim=None, claimed_until=now)
            )
        return last, entries

    last, entries = await in_transaction(state, work)
    backend = state.state.backend
    if entries and backend.guards_purges and not backend.queues_purges:
        pairs = sorted({(b, r) for _, b, r in entries})
        return int(
            await backend.arelease_purges(  # type: ignore[attr-defined]
                token, pairs, remember=TOMBSTONE_SECONDS
            )
        )
    return last


async def drop_tombstones(state: AppState, *, older_than_seconds: int = TOMBSTONE_SECONDS) -> int:
    """Forget purges finished more than ``older_than_seconds`` ago; how many were dropped."""
    cutoff = now_seconds() - older_than_seconds

    def work(session: Session) -> int:
        done = and_(_q.purged_seq.is_not(None), _q.claimed_until < cutoff)
        result = session.execute(delete(queue_table).where(done))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]

    return await in_transaction(state, work)


def _body(entry: PurgeEntry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "kind": entry.kind,
        "ref": entry.ref,
        "backend": entry.ref_backend,
        "owner": entry.owner,
        "key": entry.key,
    }
