"""The metastore's side of the purge protocol: a ``set`` of a reference meets every purge.

A purge (see :mod:`taskstate.api.purge`) claims a queue entry, removes the object, then marks
the entry purged with the next number of one sequence (``purged_seq``). A writer stores its
object first and writes the reference second, so a purge of the same reference may run between
the two. The ``set`` statement therefore applies only if no entry of its reference is

* claimed by a purger whose claim has not lapsed (the object may be removed at any moment), or
* purged with a number above the writer's ``restored_after``: the purge may have removed the
  object the writer stored, so the writer stores it again and names that number.

The condition is part of the upsert (no extra round trip on SQLite, whose writers are
serialised). On PostgreSQL a statement sees only what was committed when it began, so the set
and the claim of the same reference each take a transaction-level advisory lock on the
reference first (:func:`lock_statement`): whichever comes second sees what the first committed.
"""

from __future__ import annotations

import time
from typing import Any, cast

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    Table,
    bindparam,
    exists,
    func,
    literal,
    or_,
    select,
    text,
)
from sqlalchemy.sql.expression import TextClause

from taskstate.backends import _refusals as refusals
from taskstate.db.models import REF_PREFIX_CHARS, PurgeEntry
from taskstate.errors import PurgePendingError

__all__ = [
    "blocking_condition",
    "blocking_statement",
    "guard_params",
    "lock_statement",
    "pending_error",
    "queue_table",
]

queue_table = cast(Table, PurgeEntry.__table__)


def now_seconds() -> int:
    return int(time.time())


def _same_ref(data: Any) -> ColumnElement[bool]:
    q = queue_table.c
    # The prefix matches the index ix_purge_queue_ref; the full text decides.
    prefix = func.substr(q.ref, 1, REF_PREFIX_CHARS) == func.substr(data, 1, REF_PREFIX_CHARS)
    return cast(ColumnElement[bool], prefix & (q.ref == data))


def _blocking(data: Any) -> ColumnElement[bool]:
    q = queue_table.c
    now = bindparam("purge_now", type_=BigInteger())
    held = q.claim.is_not(None) & q.purged_seq.is_(None) & (q.claimed_until >= now)
    purged = q.purged_seq > bindparam("restored_after", type_=BigInteger())
    return _same_ref(data) & or_(held, purged)


def blocking_condition() -> ColumnElement[bool]:
    """True when a purge blocks a set of ``:state_data``: a condition of the set statement."""
    return ~exists(
        select(literal(1)).select_from(queue_table).where(_blocking(bindparam("state_data")))
    )


def blocking_statement() -> Select[Any]:
    """Whether a claim holds ``:state_data``, and the newest purge of it: why a set was refused."""
    q = queue_table.c
    now = bindparam("purge_now", type_=BigInteger())
    held = q.claim.is_not(None) & q.purged_seq.is_(None) & (q.claimed_until >= now)
    return select(func.count().filter(held), func.coalesce(func.max(q.purged_seq), 0)).where(
        _same_ref(bindparam("state_data"))
    )


def guard_params(params: dict[str, Any], restored_after: int | None) -> dict[str, Any]:
    params["purge_now"] = now_seconds()
    params["restored_after"] = restored_after or 0
    return params


def lock_statement() -> TextClause:
    """PostgreSQL: hold the reference ``:lock_ref`` until the transaction ends."""
    return text("SELECT pg_advisory_xact_lock(hashtextextended(:lock_ref, 0))")


def pending_error(
    key: str, ref: str, row: Any, restored_after: int | None
) -> PurgePendingError | None:
    """The error for a refused set of ``ref``, given :func:`blocking_statement`'s row."""
    return refusals.purge_pending(key, ref, int(row[0] or 0), int(row[1] or 0), restored_after)
