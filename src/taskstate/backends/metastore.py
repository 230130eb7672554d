"""``MetastoreStateBackend``: task and asset state in the metadata database (the default).

Every operation is one SQL statement, built once per dialect and reused, so SQLAlchemy compiles
it once and PostgreSQL prepares it after a few runs. A scope names its owner by natural key
(dag_id, run_id, task_id, map_index / asset name); the statement resolves it to the owner's row
with a scalar subquery rather than a separate round trip. ``set`` is an upsert with no read
before the write; a scope without an owner row makes the subquery NULL, the NOT NULL constraint
rejects the row, and that violation becomes :class:`NotFoundError`.

Without a caller's session, a statement runs on its own in autocommit mode: a single statement
is atomic anyway, and this spares the BEGIN and COMMIT round trips.

Retention: reads add ``expires_at IS NULL OR expires_at > :now`` to their primary-key lookup, so
an expired row is invisible at once, with no read before any write. ``delete_expired`` removes a
batch per table in one short statement that picks the oldest expiries through the partial index
``ix_<table>_expires_at``; on PostgreSQL the batch is chosen ``FOR UPDATE SKIP LOCKED``, so API
servers cleaning at once take disjoint rows and never wait on each other. Given the caller's
session, the batch is removed in the caller's transaction, where the API server also queues its
references for purging: a crash loses both or neither.

The async twins use psycopg's native async connections on PostgreSQL. On SQLite, without a
caller's ``AsyncSession``, they run the sync statement inline on the event loop: a statement
takes 35-60 µs, a hop to a worker thread 120-150 µs more (aiosqlite hops about five times per
statement), and SQLite serialises writers anyway. The API server's transactions rely on this
too (see ``in_transaction`` in ``taskstate.api.app``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NamedTuple, TypeAlias, TypeVar, cast

from sqlalchemy import (
    Column,
    ColumnElement,
    ScalarSelect,
    Select,
    Table,
    Text,
    bindparam,
    case,
    delete,
    func,
    literal_column,
    or_,
    select,
    tuple_,
    union_all,
)
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.sql.expression import Executable

from taskstate.backends import _metastore_writes as writes
from taskstate.backends import _purge_guard as purge_guard
from taskstate.backends import _refusals as refusals
from taskstate.db.engine import Database, raise_backend_error
from taskstate.db.models import REF_PREFIX_CHARS, Asset, AssetState, TaskInstance, TaskState
from taskstate.errors import BackendError, NotFoundError, UnknownAssetError, VersionConflictError
from taskstate.state.backend import BaseStateBackend
from taskstate.state.types import (
    AssetScope,
    ExpiredBatch,
    StateEntry,
    StateKind,
    StateScope,
    StoredValue,
    TaskScope,
    TryFence,
)

_T = TypeVar("_T")

if TYPE_CHECKING:
    from sqlalchemy import Result
    from sqlalchemy.sql.dml import ReturningDelete

    _Rows: TypeAlias = Result[*tuple[Any, ...]]
    _Deleting: TypeAlias = ReturningDelete[*tuple[Any, ...]]
    # What to take from a statement's result, applied before its connection is released.
    _Fetch: TypeAlias = Callable[[_Rows], _T]

__all__ = ["MetastoreStateBackend"]


_ti = cast(Table, TaskInstance.__table__)
_asset = cast(Table, Asset.__table__)
_task_state = cast(Table, TaskState.__table__)
_asset_state = cast(Table, AssetState.__table__)


_STORED = ("data", "ref_backend", "expires_at", "written_by", "version", "encryption")


class _Statements(NamedTuple):
    """The statements of one kind of scope, for one dialect (writes: :mod:`._metastore_writes`)."""

    table: Table
    owner: str
    owner_id: ScalarSelect[Any]
    dialect: str
    get: Select[Any]
    clear_fenced: _Deleting
    clear: _Deleting
    list: Select[Any]
    expired: _Deleting
    """Removes a batch of expired rows: ``:now``, ``:limit``."""
    count_expired: ScalarSelect[Any]


class _DialectStatements(NamedTuple):
    task: _Statements
    asset: _Statements
    task_all_map_indices_clear: _Deleting
    count_expired: Select[Any]


def _now(table: Table) -> Any:
    return bindparam("now", type_=table.c.expires_at.type)


def _scope_statements(
    table: Table, owner_column: Column[Any], owner_id: ScalarSelect[Any], dialect: str
) -> _Statements:
    key_is = table.c.key == bindparam("state_key")
    # Code-point order on both databases, whatever collation PostgreSQL was created with.
    key_order = table.c.key.collate("C") if dialect == "postgresql" else table.c.key
    owned = owner_column == owner_id
    live = or_(table.c.expires_at.is_(None), table.c.expires_at > _now(table))
    stored = tuple(table.c[name] for name in _STORED)
    expired = table.c.expires_at.is_not(None) & (table.c.expires_at <= _now(table))
    return _Statements(
        table=table,
        owner=owner_column.name,
        owner_id=owner_id,
        dialect=dialect,
        get=select(*stored).where(owned, key_is, live),
        clear_fenced=_clear_refs(table, owned & writes.fence_condition(_ti)),
        clear=_clear_refs(table, owned),
        list=select(table.c.key, *stored, table.c.updated_at)
        .where(owned, live)
        .order_by(key_order),
        expired=_clear_refs(table, _expired_batch(table, owner_column, expired, dialect)),
        count_expired=select(func.count()).select_from(table).where(expired).scalar_subquery(),
    )


def _expired_batch(
    table: Table, owner_column: Column[Any], expired: ColumnElement[bool], dialect: str
) -> ColumnElement[bool]:
    """The rows of the next batch: the ``:limit`` oldest expiries, found by the expiry index."""
    if dialect == "postgresql":
        # Rows another server's batch holds are skipped, not waited for.
        pk = (owner_column, table.c.key)
        batch = select(*pk).where(expired).order_by(table.c.expires_at)
        batch = batch.limit(bindparam("limit")).with_for_update(skip_locked=True)
        return tuple_(*pk).in_(batch)
    # SQLite serialises writers, so the rowid alone names a row for the length of the statement.
    rowid: ColumnElement[Any] = literal_column("rowid")
    batch = select(rowid).select_from(table).where(expired).order_by(table.c.expires_at)
    return rowid.in_(batch.limit(bindparam("limit")))


def _clear_refs(table: Table, where: ColumnElement[bool]) -> _Deleting:
    # RETURNING cannot filter rows, so inline values come back as NULL instead of their text.
    ref_data = case((table.c.ref_backend.is_not(None), table.c.data))
    return delete(table).where(where).returning(ref_data, table.c.ref_backend)


def _find_refs_statement() -> Select[Any]:
    """The references among ``:refs`` that rows of ``:ref_backend`` hold, in either table.

    The prefix expression is spelled with literals, exactly as the index of migration 0003 is,
    so that both databases match the index to it.
    """

    def holding(table: Table) -> Select[Any]:
        prefix = func.substr(
            table.c.data, literal_column("1"), literal_column(str(REF_PREFIX_CHARS))
        )
        return select(table.c.data).where(
            table.c.ref_backend.is_not(None),
            table.c.ref_backend == bindparam("ref_backend"),
            prefix.in_(bindparam("prefixes", expanding=True, type_=Text())),
            table.c.data.in_(bindparam("refs", expanding=True)),
        )

    return cast(Select[Any], union_all(holding(_task_state), holding(_asset_state)))


_FIND_REFS = _find_refs_statement()


def _find_refs_params(ref_backend: str, refs: Sequence[str]) -> dict[str, Any]:
    unique = sorted(set(refs))
    prefixes = sorted({r[:REF_PREFIX_CHARS] for r in unique})
    return {"ref_backend": ref_backend, "prefixes": prefixes, "refs": unique}


def _found(result: _Rows) -> frozenset[str]:
    return frozenset(row[0] for row in result)


@functools.cache
def _statements(dialect: str) -> _DialectStatements:
    ti_match = (
        _ti.c.dag_id == bindparam("dag_id"),
        _ti.c.run_id == bindparam("run_id"),
        _ti.c.task_id == bindparam("task_id"),
    )
    ti_id = select(_ti.c.id).where(*ti_match, _ti.c.map_index == bindparam("map_index"))
    asset_id = select(_asset.c.id).where(_asset.c.name == bindparam("asset_name"))
    task = _scope_statements(_task_state, _task_state.c.ti_id, ti_id.scalar_subquery(), dialect)
    asset = _scope_statements(
        _asset_state, _asset_state.c.asset_id, asset_id.scalar_subquery(), dialect
    )
    return _DialectStatements(
        task=task,
        asset=asset,
        task_all_map_indices_clear=_clear_refs(
            _task_state, _task_state.c.ti_id.in_(select(_ti.c.id).where(*ti_match))
        ),
        count_expired=select(task.count_expired + asset.count_expired),
    )


def _scope_params(scope: StateScope) -> dict[str, Any]:
    if type(scope) is TaskScope:
        return {
            "dag_id": scope.dag_id,
            "run_id": scope.run_id,
            "task_id": scope.task_id,
            "map_index": scope.map_index,
        }
    if type(scope) is AssetScope:
        return {"asset_name": scope.name}
    raise TypeError(f"not a state scope: {scope!r}")


def _key_params(scope: StateScope, key: str) -> dict[str, Any]:
    params = _scope_params(scope)
    params["state_key"] = key
    return params


def _read_params(scope: StateScope, key: str | None = None) -> dict[str, Any]:
    """Parameters of a read, which sees only the keys that have not expired by now."""
    params = _scope_params(scope) if key is None else _key_params(scope, key)
    params["now"] = datetime.now(UTC)
    return params


def _set_params(
    scope: StateScope, key: str, value: StoredValue, if_version: int | None, fence: TryFence | None
) -> dict[str, Any]:
    params = _key_params(scope, key)
    now = datetime.now(UTC)
    params["state_data"] = value.data
    params["state_ref_backend"] = value.ref_backend
    params["state_updated_at"] = now
    params["state_expires_at"] = value.expires_at
    params["state_written_by"] = value.written_by
    params["state_encryption"] = value.encryption
    params["state_clock"] = writes.clock_micros()
    params["now"] = now
    if if_version:
        params["if_version"] = if_version
    return writes.fence_params(fence, params)


def _mode(if_version: int | None) -> writes.Mode:
    if if_version is None:
        return "put"
    if if_version < 0:
        raise VersionConflictError(
            f"a version is a positive number, or 0 for a key that must not exist, not {if_version}",
            detail={"if_version": if_version, "current_version": 0},
        )
    return "create" if if_version == 0 else "match"


def _version(result: _Rows) -> int | None:
    row = result.first()
    return None if row is None else int(row[0])


def _nothing(result: _Rows) -> None:
    return None


def _first_stored(result: _Rows) -> StoredValue | None:
    row = result.first()
    return None if row is None else StoredValue(*row[:6])


def _first(result: _Rows) -> Any:
    return result.first()


def _refs(result: _Rows) -> list[StoredValue]:
    return [StoredValue(data, ref) for data, ref in result if ref is not None]


def _entries(result: _Rows) -> list[StateEntry]:
    return [
        StateEntry(key, StoredValue(data, ref, expires_at, written_by, version, encryption), at)
        for key, data, ref, expires_at, written_by, version, encryption, at in result
    ]


def _expired_rows(kind: StateKind) -> _Fetch[ExpiredBatch]:
    def fetch(result: _Rows) -> ExpiredBatch:
        rows = result.all()
        refs = [(kind, StoredValue(data, ref)) for data, ref in rows if ref is not None]
        return ExpiredBatch(len(rows), refs)

    return fetch


def _joined(first: ExpiredBatch, second: ExpiredBatch) -> ExpiredBatch:
    return ExpiredBatch(first.removed + second.removed, first.refs + second.refs)


def _count(result: _Rows) -> int:
    return int(result.scalar_one())


def _raise_if_owner_missing(scope: StateScope, exc: BackendError) -> None:
    """Raise the "no such owner" error if ``exc`` is a constraint violation of an upsert."""
    if not isinstance(exc.__cause__, IntegrityError):
        return
    if isinstance(scope, AssetScope):
        raise UnknownAssetError(
            f"no asset named {scope.name!r}", detail={"asset_name": scope.name}
        ) from exc.__cause__
    raise NotFoundError(
        f"no task instance {scope}",
        detail={
            "dag_id": scope.dag_id,
            "run_id": scope.run_id,
            "task_id": scope.task_id,
            "map_index": scope.map_index,
        },
    ) from exc.__cause__


class MetastoreStateBackend(BaseStateBackend):
    """Keeps task and asset state in the ``task_state`` and ``asset_state`` tables.

    It keeps versions and fences writes, each in the statement that writes (see
    :mod:`taskstate.backends._metastore_writes`).

    Every method takes an optional ``session`` (a SQLAlchemy ``Session`` or ``Connection``, or
    their async twins for the ``a*`` methods): the statement then runs in the caller's
    transaction, which the caller commits. A failed statement leaves that transaction unusable
    on PostgreSQL, as any failed statement does; the caller rolls it back. Without a session,
    each statement commits by itself.

    The :class:`~taskstate.db.Database` belongs to the caller, who disposes of it.
    """

    supports_versions = True
    supports_fencing = True
    queues_purges = True
    guards_purges = True

    def __init__(self, database: Database) -> None:
        self._database = database
        self._masked_url = database.masked_url
        self._engine = database.autocommit_engine
        # None: run the sync statement inline (see the module docstring).
        self._async_engine = (
            database.async_autocommit_engine if database.dialect == "postgresql" else None
        )
        statements = _statements(database.dialect)
        self._task = statements.task
        self._asset = statements.asset
        self._task_all_map_indices_clear = statements.task_all_map_indices_clear
        self._count_expired = statements.count_expired

    @classmethod
    def from_settings(cls, *, database: Database) -> MetastoreStateBackend:
        """Build the backend from the server's context; it takes no options of its own (the
        registry refuses any, with :class:`~taskstate.errors.BackendOptionError`)."""
        return cls(database)

    def __repr__(self) -> str:
        return f"MetastoreStateBackend({self._masked_url!r})"

    def _for(self, scope: StateScope) -> _Statements:
        return self._task if type(scope) is TaskScope else self._asset

    def _clear_statement(
        self, scope: StateScope, all_map_indices: bool, fence: TryFence | None = None
    ) -> _Deleting:
        if all_map_indices and type(scope) is TaskScope:
            return self._task_all_map_indices_clear
        return self._for(scope).clear if fence is None else self._for(scope).clear_fenced

    def _set_statement(
        self, scope: StateScope, if_version: int | None, fence: TryFence | None, guarded: bool
    ) -> Executable:
        st = self._for(scope)
        mode = _mode(if_version)
        return writes.set_statement(
            st.table, st.owner, st.owner_id, _ti, st.dialect, mode, fence is not None, guarded
        )

    def _delete_call(
        self, scope: StateScope, key: str, if_version: int | None, fence: TryFence | None
    ) -> tuple[Executable, dict[str, Any]]:
        st = self._for(scope)
        versioned = if_version is not None
        stmt = writes.delete_statement(
            st.table, st.owner, st.owner_id, _ti, _STORED, versioned, fence is not None
        )
        params = _key_params(scope, key)
        if versioned:
            _mode(if_version)
            params["if_version"] = if_version
            params["now"] = datetime.now(UTC)
        return stmt, writes.fence_params(fence, params)

    def _version_statement(self, scope: StateScope) -> Select[Any]:
        st = self._for(scope)
        return writes.version_statement(st.table, st.owner, st.owner_id)

    # -- sync ---------------------------------------------------------------------------------

    def _run(self, stmt: Executable, params: dict[str, Any], session: Any, fetch: _Fetch[_T]) -> _T:
        try:
            if session is not None:
                return fetch(session.execute(stmt, params))
            with self._engine.connect() as conn:
                return fetch(conn.execute(stmt, params))
        except SQLAlchemyError as exc:
            raise_backend_error(exc, self._masked_url)

    def _run_locked(
        self, stmt: Executable, params: dict[str, Any], ref: str, fetch: _Fetch[_T]
    ) -> _T:
        """PostgreSQL: ``stmt`` in a transaction that holds the reference ``ref`` first."""
        try:
            with self._database.engine.begin() as conn:
                conn.execute(purge_guard.lock_statement(), {"lock_ref": ref})
                return fetch(conn.execute(stmt, params))
        except SQLAlchemyError as exc:
            raise_backend_error(exc, self._masked_url)

    def _diagnose_purge(
        self, key: str, params: dict[str, Any], restored_after: int | None, session: Any
    ) -> None:
        row = self._run(purge_guard.blocking_statement(), params, session, _first)
        self._raise_pending(key, params, row, restored_after)

    @staticmethod
    def _raise_pending(
        key: str, params: dict[str, Any], row: Any, restored_after: int | None
    ) -> None:
        if pending := purge_guard.pending_error(key, params["state_data"], row, restored_after):
            raise pending

    def get(self, scope: StateScope, key: str, *, session: Any = None) -> StoredValue | None:
        return self._run(self._for(scope).get, _read_params(scope, key), session, _first_stored)

    def set(
        self,
        scope: StateScope,
        key: str,
        value: StoredValue,
        *,
        if_version: int | None = None,
        fence: TryFence | None = None,
        restored_after: int | None = None,
        session: Any = None,
    ) -> int:
        guarded = value.ref_backend is not None
        stmt = self._set_statement(scope, if_version, fence, guarded)
        params = _set_params(scope, key, value, if_version, fence)
        if guarded:
            purge_guard.guard_params(params, restored_after)
        try:
            if guarded and session is None and self._database.dialect == "postgresql":
                version = self._run_locked(stmt, params, value.data, _version)
            else:
                version = self._run(stmt, params, session, _version)
        except BackendError as exc:
            _raise_if_owner_missing(scope, exc)
            raise
        if version is None:
            self._diagnose(scope, key, if_version, fence, session)
            if guarded:
                self._diagnose_purge(key, params, restored_after, session)
            raise refusals.version_conflict(key, if_version or 0, None)
        return version

    def delete(
        self,
        scope: StateScope,
        key: str,
        *,
        if_version: int | None = None,
        fence: TryFence | None = None,
        session: Any = None,
    ) -> StoredValue | None:
        stmt, params = self._delete_call(scope, key, if_version, fence)
        removed = self._run(stmt, params, session, _first_stored)
        if removed is None and (if_version is not None or fence is not None):
            self._diagnose(scope, key, if_version, fence, session)
        return removed

    def clear(
        self,
        scope: StateScope,
        *,
        all_map_indices: bool = False,
        fence: TryFence | None = None,
        session: Any = None,
    ) -> list[StoredValue]:
        stmt = self._clear_statement(scope, all_map_indices, fence)
        removed = self._run(stmt, writes.fence_params(fence, _scope_params(scope)), session, _refs)
        if not removed and fence is not None:
            self._diagnose(scope, "", None, fence, session)
        return removed

    def _diagnose(
        self,
        scope: StateScope,
        key: str,
        if_version: int | None,
        fence: TryFence | None,
        session: Any,
    ) -> None:
        """Raise why a write changed nothing (a stale try, another version), if it was so."""
        if fence is not None:
            row = self._run(writes.try_statement(_ti), {"fence_ti": fence.ti_id}, session, _first)
            if (stale := writes.stale_try(fence, row)) is not None:
                raise stale
        if if_version is not None:
            stmt = self._version_statement(scope)
            current = self._run(stmt, _read_params(scope, key), session, _version)
            if current != (if_version or None):
                raise refusals.version_conflict(key, if_version, current)

    def list_entries(self, scope: StateScope, *, session: Any = None) -> list[StateEntry]:
        return self._run(self._for(scope).list, _read_params(scope), session, _entries)

    def delete_expired(self, *, now: datetime, limit: int, session: Any = None) -> ExpiredBatch:
        params = {"now": now, "limit": limit}
        batch = self._run(self._task.expired, params, session, _expired_rows("task"))
        if batch.removed < limit:
            params["limit"] = limit - batch.removed
            fetch = _expired_rows("asset")
            batch = _joined(batch, self._run(self._asset.expired, params, session, fetch))
        return batch

    def count_expired(self, *, now: datetime, session: Any = None) -> int:
        return self._run(self._count_expired, {"now": now}, session, _count)

    def find_refs(self, ref_backend: str, refs: Sequence[str]) -> frozenset[str]:
        if not refs:
            return frozenset()
        return self._run(_FIND_REFS, _find_refs_params(ref_backend, refs), None, _found)

    # -- async --------------------------------------------------------------------------------

    async def _arun(
        self, stmt: Executable, params: dict[str, Any], session: Any, fetch: _Fetch[_T]
    ) -> _T:
        if session is None and self._async_engine is None:
            # SQLite: run the statement inline. One statement takes 35-60 µs; a hop to a worker
            # thread costs 120-150 µs more (measured), aiosqlite more still, and SQLite
            # serialises writers anyway, so nothing runs concurrently either way.
            return self._run(stmt, params, None, fetch)
        try:
            if session is not None:
                return fetch(await session.execute(stmt, params))
            assert self._async_engine is not None
            async with self._async_engine.connect() as conn:
                return fetch(await conn.execute(stmt, params))
        except SQLAlchemyError as exc:
            raise_backend_error(exc, self._masked_url)

    async def _arun_locked(
        self, stmt: Executable, params: dict[str, Any], ref: str, fetch: _Fetch[_T]
    ) -> _T:
        """Async twin of :meth:`_run_locked`."""
        try:
            async with self._database.async_engine.begin() as conn:
                await conn.execute(purge_guard.lock_statement(), {"lock_ref": ref})
                return fetch(await conn.execute(stmt, params))
        except SQLAlchemyError as exc:
            raise_backend_error(exc, self._masked_url)

    async def aget(self, scope: StateScope, key: str, *, session: Any = None) -> StoredValue | None:
        params = _read_params(scope, key)
        return await self._arun(self._for(scope).get, params, session, _first_stored)

    async def aset(
        self,
        scope: StateScope,
        key: str,
        value: StoredValue,
        *,
        if_version: int | None = None,
        fence: TryFence | None = None,
        restored_after: int | None = None,
        session: Any = None,
    ) -> int:
        guarded = value.ref_backend is not None
        stmt = self._set_statement(scope, if_version, fence, guarded)
        params = _set_params(scope, key, value, if_version, fence)
        if guarded:
            purge_guard.guard_params(params, restored_after)
        try:
            if guarded and session is None and self._async_engine is not None:
                version = await self._arun_locked(stmt, params, value.data, _version)
            else:
                version = await self._arun(stmt, params, session, _version)
        except BackendError as exc:
            _raise_if_owner_missing(scope, exc)
            raise
        if version is None:
            await self._adiagnose(scope, key, if_version, fence, session)
            if guarded:
                blocking = purge_guard.blocking_statement()
                row = await self._arun(blocking, params, session, _first)
                self._raise_pending(key, params, row, restored_after)
            raise refusals.version_conflict(key, if_version or 0, None)
        return version

    async def adelete(
        self,
        scope: StateScope,
        key: str,
        *,
        if_version: int | None = None,
        fence: TryFence | None = None,
        session: Any = None,
    ) -> StoredValue | None:
        stmt, params = self._delete_call(scope, key, if_version, fence)
        removed = await self._arun(stmt, params, session, _first_stored)
        if removed is None and (if_version is not None or fence is not None):
            await self._adiagnose(scope, key, if_version, fence, session)
        return removed

    async def aclear(
        self,
        scope: StateScope,
        *,
        all_map_indices: bool = False,
        fence: TryFence | None = None,
        session: Any = None,
    ) -> list[StoredValue]:
        stmt = self._clear_statement(scope, all_map_indices, fence)
        params = writes.fence_params(fence, _scope_params(scope))
        removed = await self._arun(stmt, params, session, _refs)
        if not removed and fence is not None:
            await self._adiagnose(scope, "", None, fence, session)
        return removed

    async def _adiagnose(
        self,
        scope: StateScope,
        key: str,
        if_version: int | None,
        fence: TryFence | None,
        session: Any,
    ) -> None:
        """Async twin of :meth:`_diagnose`."""
        if fence is not None:
            params = {"fence_ti": fence.ti_id}
            row = await self._arun(writes.try_statement(_ti), params, session, _first)
            if (stale := writes.stale_try(fence, row)) is not None:
                raise stale
        if if_version is not None:
            stmt = self._version_statement(scope)
            current = await self._arun(stmt, _read_params(scope, key), session, _version)
            if current != (if_version or None):
                raise refusals.version_conflict(key, if_version, current)

    async def alist_entries(self, scope: StateScope, *, session: Any = None) -> list[StateEntry]:
        return await self._arun(self._for(scope).list, _read_params(scope), session, _entries)

    async def adelete_expired(
        self, *, now: datetime, limit: int, session: Any = None
    ) -> ExpiredBatch:
        params = {"now": now, "limit": limit}
        batch = await self._arun(self._task.expired, params, session, _expired_rows("task"))
        if batch.removed < limit:
            params["limit"] = limit - batch.removed
            fetch = _expired_rows("asset")
            batch = _joined(batch, await self._arun(self._asset.expired, params, session, fetch))
        return batch

    async def acount_expired(self, *, now: datetime, session: Any = None) -> int:
        return await self._arun(self._count_expired, {"now": now}, session, _count)

    async def afind_refs(self, ref_backend: str, refs: Sequence[str]) -> frozenset[str]:
        if not refs:
            return frozenset()
        return await self._arun(_FIND_REFS, _find_refs_params(ref_backend, refs), None, _found)
