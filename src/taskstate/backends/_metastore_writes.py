"""The metastore's writes with a version and a fence, each one SQL statement.

A write assigns the key's version in the statement itself: ``max(old + 1, clock)``, the clock
in microseconds (PostgreSQL's ``clock_timestamp()``; on SQLite, which serialises writers, the
API server's clock passed as a parameter), so a key deleted and set again never reuses a
version, and two writes of one key never get the same one.

A fenced write applies only while its try is the running try of its task instance; the check
is a condition of the same statement (``INSERT ... SELECT ... WHERE EXISTS (running try)``,
``UPDATE/DELETE ... WHERE ... AND EXISTS (...)``), so a try that has ended, or that a later try
has overtaken, changes nothing, with no extra round trip. Three kinds of ``set``:

* ``put`` (no ``if_version``): an upsert, ``RETURNING version``; no row back means the fence
  refused it.
* ``create`` (``if_version=0``): an insert whose conflict updates only an expired row.
* ``match`` (``if_version=n``): an update of the live row at version ``n``.

When no row comes back, :func:`why_refused` finds out why, with a read (only on that path).
"""

from __future__ import annotations

import functools
import time
from typing import Any, Literal

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    ScalarSelect,
    Select,
    Table,
    bindparam,
    cast,
    delete,
    exists,
    func,
    literal,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.sql.expression import Executable

from taskstate.backends import _purge_guard as purge_guard
from taskstate.backends import _refusals as refusals
from taskstate.db.engine import dialect_insert
from taskstate.db.models import TaskInstanceState
from taskstate.errors import StaleTryError
from taskstate.state.types import TryFence

__all__ = [
    "Mode",
    "clock_micros",
    "delete_statement",
    "fence_condition",
    "fence_params",
    "set_statement",
    "stale_try",
    "try_statement",
    "version_statement",
]

Mode = Literal["put", "create", "match"]


def clock_micros() -> int:
    """The API server's clock in microseconds: SQLite's part of a version."""
    return time.time_ns() // 1000


def _clock(dialect: str) -> ColumnElement[Any]:
    if dialect == "postgresql":
        return cast(func.extract("epoch", func.clock_timestamp()) * 1_000_000, BigInteger)
    return bindparam("state_clock", type_=BigInteger())


def _next_version(table: Table, dialect: str) -> ColumnElement[Any]:
    larger = func.greatest if dialect == "postgresql" else func.max
    return larger(table.c.version + 1, _clock(dialect))


_IN_FLIGHT = (TaskInstanceState.QUEUED.value, TaskInstanceState.RUNNING.value)


def fence_condition(ti: Table) -> ColumnElement[bool]:
    """True while the try ``:fence_ti``/``:fence_try`` is the latest try of its instance and
    has not ended (queued, its supervisor about to start it, or running)."""
    running = select(literal(1)).where(
        ti.c.id == bindparam("fence_ti"),
        ti.c.try_number == bindparam("fence_try"),
        ti.c.state.in_(_IN_FLIGHT),
    )
    return exists(running)


def _live(table: Table) -> ColumnElement[bool]:
    now = bindparam("now", type_=table.c.expires_at.type)
    return or_(table.c.expires_at.is_(None), table.c.expires_at > now)


_WRITTEN = ("data", "ref_backend", "updated_at", "expires_at", "written_by", "encryption")


def _values(table: Table) -> dict[str, Any]:
    return {
        "data": bindparam("state_data"),
        "ref_backend": bindparam("state_ref_backend"),
        "updated_at": bindparam("state_updated_at", type_=table.c.updated_at.type),
        "expires_at": bindparam("state_expires_at", type_=table.c.expires_at.type),
        "written_by": bindparam("state_written_by"),
        "encryption": bindparam("state_encryption"),
    }


@functools.cache
def set_statement(
    table: Table,
    owner: str,
    owner_id: ScalarSelect[Any],
    ti: Table,
    dialect: str,
    mode: Mode,
    fenced: bool,
    guarded: bool = False,
) -> Executable:
    """The ``set`` of one kind of scope; ``RETURNING version`` (no row: refused).

    ``guarded``: the value is a reference, written only if no purge blocks it (see
    :mod:`._purge_guard`).
    """
    owner_column = table.c[owner]
    guard = fence_condition(ti) if fenced else true()
    if guarded:
        guard = guard & purge_guard.blocking_condition()
    if mode == "match":
        return (
            update(table)
            .where(
                owner_column == owner_id,
                table.c.key == bindparam("state_key"),
                table.c.version == bindparam("if_version"),
                _live(table),
                guard,
            )
            .values(**_values(table), version=_next_version(table, dialect))
            .returning(table.c.version)
        )
    values = _values(table)
    columns = [owner, "key", *_WRITTEN, "version"]
    row = select(
        owner_id,
        bindparam("state_key"),
        *(values[name] for name in _WRITTEN),
        _clock(dialect),
    ).where(guard)
    insert = dialect_insert(dialect)(table).from_select(columns, row)
    replaced: dict[str, Any] = {name: insert.excluded[name] for name in _WRITTEN}
    replaced["version"] = _next_version(table, dialect)
    # An expired row is no key: create-only replaces it, as a plain set does.
    where = None if mode == "put" else ~_live(table)
    upsert = insert.on_conflict_do_update(
        index_elements=[owner_column, table.c.key], set_=replaced, where=where
    )
    return upsert.returning(table.c.version)


@functools.cache
def delete_statement(
    table: Table,
    owner: str,
    owner_id: ScalarSelect[Any],
    ti: Table,
    returning: tuple[str, ...],
    versioned: bool,
    fenced: bool,
) -> Executable:
    """The ``delete`` of one key, checking the version and the fence when asked to."""
    conditions = [table.c[owner] == owner_id, table.c.key == bindparam("state_key")]
    if versioned:
        conditions += [table.c.version == bindparam("if_version"), _live(table)]
    if fenced:
        conditions.append(fence_condition(ti))
    return delete(table).where(*conditions).returning(*(table.c[c] for c in returning))


@functools.cache
def version_statement(table: Table, owner: str, owner_id: ScalarSelect[Any]) -> Select[Any]:
    """The live version of one key (no row: the key does not exist)."""
    return select(table.c.version).where(
        table.c[owner] == owner_id, table.c.key == bindparam("state_key"), _live(table)
    )


@functools.cache
def try_statement(ti: Table) -> Select[Any]:
    """The try number and state of a task instance."""
    return select(ti.c.try_number, ti.c.state).where(ti.c.id == bindparam("fence_ti"))


def fence_params(fence: TryFence | None, params: dict[str, Any]) -> dict[str, Any]:
    if fence is not None:
        params["fence_ti"] = fence.ti_id
        params["fence_try"] = fence.try_number
    return params


def stale_try(fence: TryFence, row: Any) -> StaleTryError | None:
    """The error for a write of ``fence``'s try given the task instance's ``row``, if any."""
    if row is not None and row[0] == fence.try_number and row[1] in _IN_FLIGHT:
        return None
    current = None if row is None else {"try_number": row[0], "state": row[1]}
    if row is None:
        why = "the task instance no longer exists"
    elif row[0] != fence.try_number:
        why = f"try {row[0]} of the task instance has been queued or started since"
    else:
        why = f"the try is {row[1]}"
    return refusals.stale_try(fence, why, current)
