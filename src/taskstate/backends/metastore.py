"""``MetastoreStateBackend``: task and asset state in the metadata database (the default).

Every operation is one SQL statement, built once per dialect and reused, so SQLAlchemy compiles
it once and PostgreSQL prepares it after a few runs. A scope names its owner by natural key
(dag_id, run_id, task_id, map_index / asset name); the statement resolves it to the owner's row
with a scalar subquery rather than a separate round trip. ``set`` is an upsert with no read
before the write; a scope without an owner row makes the subquery NULL, the NOT NULL constraint
rejects the row, and that violation becomes :class:`NotFoundError`.

Without a caller's session, a statement runs on its own in autocommit mode: a single statement
is atomic anyway, and this spares the BEGIN and COMMIT round trips.

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
    select,
    union_all,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.sql.expression import Executable

from taskstate.db.engine import Database, raise_backend_error
from taskstate.db.models import REF_PREFIX_CHARS, Asset, AssetState, TaskInstance, TaskState
from taskstate.errors import BackendError, NotFoundError, UnknownAssetError
from taskstate.state.backend import BaseStateBackend
from taskstate.state.types import AssetScope, StateEntry, StateScope, StoredValue, TaskScope

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


class _Statements(NamedTuple):
    """The statements of one kind of scope, for one dialect."""

    get: Select[Any]
    set: Executable
    delete: _Deleting
    clear: _Deleting
    list: Select[Any]


class _DialectStatements(NamedTuple):
    task: _Statements
    asset: _Statements
    task_all_map_indices_clear: _Deleting


def _scope_statements(
    table: Table, owner_column: Column[Any], owner_id: ScalarSelect[Any], dialect: str
) -> _Statements:
    key_is = table.c.key == bindparam("state_key")
    # Code-point order on both databases, whatever collation PostgreSQL was created with.
    key_order = table.c.key.collate("C") if dialect == "postgresql" else table.c.key
    owned = owner_column == owner_id
    insert = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
    insert = insert.values(
        {
            owner_column.name: owner_id,
            "key": bindparam("state_key"),
            "data": bindparam("state_data"),
            "ref_backend": bindparam("state_ref_backend"),
            "updated_at": bindparam("state_updated_at", type_=table.c.updated_at.type),
        }
    )
    upsert = insert.inline().on_conflict_do_update(
        index_elements=[owner_column, table.c.key],
        set_={
            "data": insert.excluded.data,
            "ref_backend": insert.excluded.ref_backend,
            "updated_at": insert.excluded.updated_at,
        },
    )
    return _Statements(
        get=select(table.c.data, table.c.ref_backend).where(owned, key_is),
        set=upsert,
        delete=delete(table).where(owned, key_is).returning(table.c.data, table.c.ref_backend),
        clear=_clear_refs(table, owned),
        list=select(table.c.key, table.c.data, table.c.ref_backend, table.c.updated_at)
        .where(owned)
        .order_by(key_order),
    )


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
    return _DialectStatements(
        task=_scope_statements(_task_state, _task_state.c.ti_id, ti_id.scalar_subquery(), dialect),
        asset=_scope_statements(
            _asset_state, _asset_state.c.asset_id, asset_id.scalar_subquery(), dialect
        ),
        task_all_map_indices_clear=_clear_refs(
            _task_state, _task_state.c.ti_id.in_(select(_ti.c.id).where(*ti_match))
        ),
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


def _set_params(scope: StateScope, key: str, value: StoredValue) -> dict[str, Any]:
    params = _scope_params(scope)
    params["state_key"] = key
    params["state_data"] = value.data
    params["state_ref_backend"] = value.ref_backend
    params["state_updated_at"] = datetime.now(UTC)
    return params


def _nothing(result: _Rows) -> None:
    return None


def _first_stored(result: _Rows) -> StoredValue | None:
    row = result.first()
    return None if row is None else StoredValue(row[0], row[1])


def _refs(result: _Rows) -> list[StoredValue]:
    return [StoredValue(data, ref) for data, ref in result if ref is not None]


def _entries(result: _Rows) -> list[StateEntry]:
    return [StateEntry(key, StoredValue(data, ref), at) for key, data, ref, at in result]


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

    Every method takes an optional ``session`` (a SQLAlchemy ``Session`` or ``Connection``, or
    their async twins for the ``a*`` methods): the statement then runs in the caller's
    transaction, which the caller commits. A failed statement leaves that transaction unusable
    on PostgreSQL, as any failed statement does; the caller rolls it back. Without a session,
    each statement commits by itself.

    The :class:`~taskstate.db.Database` belongs to the caller, who disposes of it.
    """

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

    @classmethod
    def from_settings(cls, *, database: Database, **kwargs: Any) -> MetastoreStateBackend:
        """Build the backend from the server's context; it takes no options of its own."""
        if kwargs:
            raise TypeError(
                f"MetastoreStateBackend takes no options, got {', '.join(sorted(kwargs))}"
            )
        return cls(database)

    def __repr__(self) -> str:
        return f"MetastoreStateBackend({self._masked_url!r})"

    def _for(self, scope: StateScope) -> _Statements:
        return self._task if type(scope) is TaskScope else self._asset

    def _clear_statement(self, scope: StateScope, all_map_indices: bool) -> _Deleting:
        if all_map_indices and type(scope) is TaskScope:
            return self._task_all_map_indices_clear
        return self._for(scope).clear

    # -- sync ---------------------------------------------------------------------------------

    def _run(self, stmt: Executable, params: dict[str, Any], session: Any, fetch: _Fetch[_T]) -> _T:
        try:
            if session is not None:
                return fetch(session.execute(stmt, params))
            with self._engine.connect() as conn:
                return fetch(conn.execute(stmt, params))
        except SQLAlchemyError as exc:
            raise_backend_error(exc, self._masked_url)

    def get(self, scope: StateScope, key: str, *, session: Any = None) -> StoredValue | None:
        params = _scope_params(scope)
        params["state_key"] = key
        return self._run(self._for(scope).get, params, session, _first_stored)

    def set(self, scope: StateScope, key: str, value: StoredValue, *, session: Any = None) -> None:
        try:
            self._run(self._for(scope).set, _set_params(scope, key, value), session, _nothing)
        except BackendError as exc:
            _raise_if_owner_missing(scope, exc)
            raise

    def delete(self, scope: StateScope, key: str, *, session: Any = None) -> StoredValue | None:
        params = _scope_params(scope)
        params["state_key"] = key
        return self._run(self._for(scope).delete, params, session, _first_stored)

    def clear(
        self, scope: StateScope, *, all_map_indices: bool = False, session: Any = None
    ) -> list[StoredValue]:
        stmt = self._clear_statement(scope, all_map_indices)
        return self._run(stmt, _scope_params(scope), session, _refs)

    def list_entries(self, scope: StateScope, *, session: Any = None) -> list[StateEntry]:
        return self._run(self._for(scope).list, _scope_params(scope), session, _entries)

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

    async def aget(self, scope: StateScope, key: str, *, session: Any = None) -> StoredValue | None:
        params = _scope_params(scope)
        params["state_key"] = key
        return await self._arun(self._for(scope).get, params, session, _first_stored)

    async def aset(
        self, scope: StateScope, key: str, value: StoredValue, *, session: Any = None
    ) -> None:
        params = _set_params(scope, key, value)
        try:
            await self._arun(self._for(scope).set, params, session, _nothing)
        except BackendError as exc:
            _raise_if_owner_missing(scope, exc)
            raise

    async def adelete(
        self, scope: StateScope, key: str, *, session: Any = None
    ) -> StoredValue | None:
        params = _scope_params(scope)
        params["state_key"] = key
        return await self._arun(self._for(scope).delete, params, session, _first_stored)

    async def aclear(
        self, scope: StateScope, *, all_map_indices: bool = False, session: Any = None
    ) -> list[StoredValue]:
        stmt = self._clear_statement(scope, all_map_indices)
        return await self._arun(stmt, _scope_params(scope), session, _refs)

    async def alist_entries(self, scope: StateScope, *, session: Any = None) -> list[StateEntry]:
        return await self._arun(self._for(scope).list, _scope_params(scope), session, _entries)

    async def afind_refs(self, ref_backend: str, refs: Sequence[str]) -> frozenset[str]:
        if not refs:
            return frozenset()
        return await self._arun(_FIND_REFS, _find_refs_params(ref_backend, refs), None, _found)
