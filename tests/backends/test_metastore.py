"""MetastoreStateBackend: the contract suite on SQLite and PostgreSQL, and what is its own."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import delete, event, func, select, text

from taskstate.backends.metastore import MetastoreStateBackend
from taskstate.backends.registry import create_backend
from taskstate.db import Database
from taskstate.db.models import (
    Asset,
    AssetState,
    DagRun,
    DagRunState,
    TaskInstance,
    TaskInstanceState,
    TaskState,
)
from taskstate.errors import (
    BackendError,
    BackendImportError,
    NotFoundError,
    UnknownAssetError,
)
from taskstate.state import AssetScope, StoredValue, TaskScope
from taskstate.testing import ServerBackendContract


class World:
    """Creates the DAG run, task instances and assets that state scopes refer to.

    Every World makes its own DAG run and asset names, so tests sharing a database never meet.
    """

    def __init__(self, database: Database) -> None:
        self.database = database
        self.dag_id = "world_dag"
        self.run_id = f"run_{uuid.uuid4().hex}"
        with database.session_factory.begin() as session:
            session.add(DagRun(dag_id=self.dag_id, run_id=self.run_id, state=DagRunState.RUNNING))

    def task(self, task_id: str, map_index: int = -1) -> TaskScope:
        with self.database.session_factory.begin() as session:
            session.add(
                TaskInstance(
                    id=str(uuid.uuid4()),
                    dag_id=self.dag_id,
                    run_id=self.run_id,
                    task_id=task_id,
                    map_index=map_index,
                    state=TaskInstanceState.RUNNING,
                )
            )
        return TaskScope(self.dag_id, self.run_id, task_id, map_index)

    def asset(self, name: str) -> AssetScope:
        unique = f"{name}_{uuid.uuid4().hex}"
        with self.database.session_factory.begin() as session:
            session.add(Asset(name=unique, uri=f"s3://bucket/{unique}"))
        return AssetScope(unique)


class MetastoreContract(ServerBackendContract):
    """The contract, with scopes whose task instances and assets exist in the database."""

    @pytest.fixture
    def database(self) -> Database:
        raise NotImplementedError

    @pytest.fixture
    def world(self, database: Database) -> World:
        return World(database)

    @pytest.fixture
    def backend(self, database: Database) -> Iterator[MetastoreStateBackend]:
        backend = MetastoreStateBackend(database)
        yield backend
        backend.close()

    @pytest.fixture
    def task_scope(self, world: World) -> TaskScope:
        return world.task("task_a")

    @pytest.fixture
    def other_task_scope(self, world: World) -> TaskScope:
        return world.task("task_b")

    @pytest.fixture
    def mapped_task_scopes(self, world: World) -> list[TaskScope]:
        return [world.task("task_m", i) for i in range(3)]

    @pytest.fixture
    def asset_scope(self, world: World) -> AssetScope:
        return world.asset("orders")

    @pytest.fixture
    def other_asset_scope(self, world: World) -> AssetScope:
        return world.asset("customers")


class TestMetastoreOnSQLite(MetastoreContract):
    @pytest.fixture
    def database(self, sqlite_database: Database) -> Database:
        return sqlite_database


@pytest.mark.postgres
class TestMetastoreOnPostgres(MetastoreContract):
    @pytest.fixture
    def database(self, postgres_database: Database) -> Database:
        return postgres_database


# -- what only the metastore does ----------------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest) -> Database:
    fixture: Database = request.getfixturevalue(f"{request.param}_database")
    return fixture


@pytest.fixture
def world(database: Database) -> World:
    return World(database)


@pytest.fixture
def backend(database: Database) -> MetastoreStateBackend:
    return MetastoreStateBackend(database)


def _state_rows(database: Database) -> int:
    with database.engine.connect() as conn:
        tasks = conn.scalar(select(func.count()).select_from(TaskState))
        assets = conn.scalar(select(func.count()).select_from(AssetState))
    return int(tasks or 0) + int(assets or 0)


@pytest.mark.parametrize(
    "scope",
    [
        TaskScope("world_dag", "no_such_run", "task_a"),
        TaskScope("no_such_dag", "run", "task_a"),
    ],
)
def test_set_for_unknown_task_instance_raises_not_found(
    backend: MetastoreStateBackend, database: Database, scope: TaskScope
) -> None:
    before = _state_rows(database)
    with pytest.raises(NotFoundError, match="no task instance") as info:
        backend.set(scope, "k", StoredValue("1"))
    assert type(info.value) is NotFoundError
    assert info.value.detail["task_id"] == "task_a"
    assert _state_rows(database) == before


def test_set_for_unknown_map_index_raises_not_found(
    backend: MetastoreStateBackend, world: World, database: Database
) -> None:
    scope = world.task("mapped", 0)
    before = _state_rows(database)
    with pytest.raises(NotFoundError, match=r"mapped\[1\]"):
        backend.set(TaskScope(scope.dag_id, scope.run_id, scope.task_id, 1), "k", StoredValue("1"))
    assert _state_rows(database) == before


def test_set_for_unknown_asset_raises_unknown_asset(
    backend: MetastoreStateBackend, database: Database
) -> None:
    before = _state_rows(database)
    with pytest.raises(UnknownAssetError, match="no asset named 'nowhere'") as info:
        backend.set(AssetScope("nowhere"), "k", StoredValue("1"))
    assert info.value.detail == {"asset_name": "nowhere"}
    assert _state_rows(database) == before


def test_aset_for_unknown_scopes_raises(backend: MetastoreStateBackend, database: Database) -> None:
    before = _state_rows(database)

    async def scenario() -> None:
        with pytest.raises(NotFoundError):
            await backend.aset(TaskScope("d", "r", "t"), "k", StoredValue("1"))
        with pytest.raises(UnknownAssetError):
            await backend.aset(AssetScope("nowhere"), "k", StoredValue("1"))

    asyncio.run(scenario())
    assert _state_rows(database) == before


def test_reads_of_unknown_scopes_find_nothing(backend: MetastoreStateBackend) -> None:
    for scope in (TaskScope("d", "r", "t"), AssetScope("nowhere")):
        assert backend.get(scope, "k") is None
        assert backend.delete(scope, "k") is None
        assert backend.clear(scope, all_map_indices=True) == []
        assert backend.list_entries(scope) == []


def test_every_operation_is_one_statement(backend: MetastoreStateBackend, world: World) -> None:
    scope = world.task("counted")
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    engine = world.database.autocommit_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        backend.set(scope, "k", StoredValue("1"))
        backend.set(scope, "k", StoredValue("2"))
        backend.get(scope, "k")
        backend.list_entries(scope)
        backend.delete(scope, "k")
        backend.clear(scope, all_map_indices=True)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(statements) == 6
    assert statements[0].startswith("INSERT INTO task_state")


def test_session_of_the_caller_owns_the_transaction(
    backend: MetastoreStateBackend, world: World
) -> None:
    scope = world.task("in_session")
    with world.database.session_factory() as session:
        backend.set(scope, "k", StoredValue("1"), session=session)
        assert backend.get(scope, "k", session=session) == StoredValue("1")
        assert backend.get(scope, "k") is None
        session.rollback()
    assert backend.get(scope, "k") is None

    with world.database.session_factory() as session:
        backend.set(scope, "k", StoredValue("2"), session=session)
        backend.set(scope, "gone", StoredValue("mem://g", "x.Backend"), session=session)
        assert backend.delete(scope, "gone", session=session) == StoredValue("mem://g", "x.Backend")
        assert [e.key for e in backend.list_entries(scope, session=session)] == ["k"]
        session.commit()
    assert backend.get(scope, "k") == StoredValue("2")

    with world.database.session_factory() as session:
        assert backend.clear(scope, session=session) == []
        session.rollback()
    assert backend.get(scope, "k") == StoredValue("2")


def test_async_session_of_the_caller_owns_the_transaction(
    backend: MetastoreStateBackend, world: World
) -> None:
    scope = world.task("in_async_session")
    asset = world.asset("in_async_session")

    async def scenario() -> None:
        async with world.database.async_session_factory() as session:
            await backend.aset(scope, "k", StoredValue("1"), session=session)
            await backend.aset(asset, "k", StoredValue("mem://a", "x.Backend"), session=session)
            assert await backend.aget(scope, "k", session=session) == StoredValue("1")
            assert await backend.aget(scope, "k") is None
            await session.rollback()
        assert await backend.aget(scope, "k") is None
        async with world.database.async_session_factory() as session:
            await backend.aset(asset, "k", StoredValue("mem://a", "x.Backend"), session=session)
            await session.commit()
        async with world.database.async_session_factory() as session:
            assert await backend.aclear(asset, session=session) == [
                StoredValue("mem://a", "x.Backend")
            ]
            assert await backend.alist_entries(asset, session=session) == []
            assert await backend.adelete(asset, "k", session=session) is None
            await session.commit()
        assert await backend.aget(asset, "k") is None

    asyncio.run(scenario())


def test_unknown_scope_in_a_session_raises_not_found(
    backend: MetastoreStateBackend, database: Database
) -> None:
    with database.session_factory() as session, pytest.raises(NotFoundError):
        backend.set(TaskScope("d", "r", "t"), "k", StoredValue("1"), session=session)


def test_state_rows_go_with_their_task_instance(
    backend: MetastoreStateBackend, world: World
) -> None:
    scope = world.task("cascade")
    backend.set(scope, "k", StoredValue("1"))
    with world.database.session_factory.begin() as session:
        session.execute(delete(DagRun).where(DagRun.run_id == world.run_id))
    assert backend.get(scope, "k") is None


def test_missing_tables_raise_backend_error(tmp_path: Any) -> None:
    database = Database(f"sqlite:///{tmp_path / 'empty.db'}")
    backend = MetastoreStateBackend(database)
    try:
        with pytest.raises(BackendError, match=r"empty\.db failed: .*no such table") as info:
            backend.get(TaskScope("d", "r", "t"), "k")
        assert info.value.__cause__ is not None
        with pytest.raises(BackendError):
            asyncio.run(backend.aget(AssetScope("a"), "k"))
    finally:
        asyncio.run(database.adispose())


def test_unreachable_postgres_raises_backend_error_without_password() -> None:
    database = Database("postgresql://taskstate:s3cret@127.0.0.1:1/nowhere")
    backend = MetastoreStateBackend(database)
    try:
        with pytest.raises(BackendError) as info:
            backend.get(TaskScope("d", "r", "t"), "k")
        assert "127.0.0.1:1/nowhere" in info.value.message
        assert "s3cret" not in info.value.message
        assert "s3cret" not in repr(backend)
        with pytest.raises(BackendError):
            asyncio.run(backend.aset(TaskScope("d", "r", "t"), "k", StoredValue("1")))
    finally:
        asyncio.run(database.adispose())


def test_built_from_settings(database: Database) -> None:
    backend = create_backend("metastore", {}, setting="[state_store] backend", database=database)
    assert isinstance(backend, MetastoreStateBackend)
    with pytest.raises(BackendImportError, match=r"\[state_store\] backend_kwargs.*pool"):
        create_backend("metastore", {"pool": 3}, setting="[state_store] backend", database=database)


# -- retention: what only the metastore does ----------------------------------------------------

_LONG_AGO = datetime(2001, 1, 1, tzinfo=UTC)


def _expired_rows(backend: MetastoreStateBackend, scope: TaskScope, count: int) -> None:
    for i in range(count):
        stored = StoredValue(f"mem://{scope.task_id}/{i}", "x.B", _LONG_AGO + timedelta(seconds=i))
        backend.set(scope, f"k{i}", stored)


def test_a_clean_up_batch_is_found_through_the_expiry_index(
    backend: MetastoreStateBackend, database: Database
) -> None:
    captured: list[tuple[str, Any]] = []

    def capture(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        captured.append((statement, parameters))

    event.listen(database.engine, "before_cursor_execute", capture)
    try:
        with database.session_factory() as session:
            backend.delete_expired(now=_LONG_AGO, limit=10, session=session)
            session.rollback()
    finally:
        event.remove(database.engine, "before_cursor_execute", capture)
    statement, parameters = captured[0]
    assert statement.startswith("DELETE FROM task_state")
    with database.engine.connect() as conn:
        if database.dialect == "postgresql":
            # A tiny table is read whole; forbid that to see which index the plan can use.
            conn.exec_driver_sql("SET enable_seqscan = off")
            plan = conn.exec_driver_sql(f"EXPLAIN {statement}", parameters)
        else:
            plan = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)
        shown = "\n".join(str(row) for row in plan)
        conn.rollback()
    assert "ix_task_state_expires_at" in shown, shown


def test_reads_and_the_clean_up_are_one_statement_each(
    backend: MetastoreStateBackend, world: World
) -> None:
    scope = world.task("counted_expiry")
    asset = world.asset("counted_expiry")
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    engine = world.database.autocommit_engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        backend.set(scope, "k", StoredValue("1", expires_at=_LONG_AGO, written_by='"api"'))
        backend.get(scope, "k")
        backend.list_entries(scope)
        backend.count_expired(now=_LONG_AGO)
        assert backend.delete_expired(now=_LONG_AGO, limit=1).removed == 1  # the task table
        backend.set(asset, "k", StoredValue("1", expires_at=_LONG_AGO))
        assert backend.delete_expired(now=_LONG_AGO, limit=5).removed == 1  # then the asset's
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert len(statements) == 8
    assert statements[0].startswith("INSERT INTO task_state")
    assert statements[4].startswith("DELETE FROM task_state")
    assert statements[7].startswith("DELETE FROM asset_state")


def test_a_clean_up_batch_shares_the_callers_transaction(
    backend: MetastoreStateBackend, world: World
) -> None:
    scope = world.task("rolled_back")
    _expired_rows(backend, scope, 2)
    with world.database.session_factory() as session:
        batch = backend.delete_expired(
            now=_LONG_AGO + timedelta(seconds=1), limit=10, session=session
        )
        assert batch.removed == 2
        session.rollback()
    assert backend.count_expired(now=_LONG_AGO + timedelta(seconds=1)) == 2
    assert backend.delete_expired(now=_LONG_AGO + timedelta(seconds=1), limit=10).removed == 2


@pytest.mark.postgres
def test_concurrent_clean_ups_take_disjoint_rows_without_waiting(
    postgres_database: Database,
) -> None:
    backend = MetastoreStateBackend(postgres_database)
    world = World(postgres_database)
    scope = world.task("concurrent")
    _expired_rows(backend, scope, 6)
    now = _LONG_AGO + timedelta(seconds=10)
    with (
        postgres_database.session_factory() as first,
        postgres_database.session_factory() as second,
    ):
        taken = backend.delete_expired(now=now, limit=4, session=first)  # rows locked, open
        # Waiting on the first transaction's locks would fail here rather than hang.
        second.execute(text("SET LOCAL lock_timeout = '1s'"))
        rest = backend.delete_expired(now=now, limit=10, session=second)
        first.commit()
        second.commit()
    assert (taken.removed, rest.removed) == (4, 2)
    mine = {s.data for _, s in taken.refs}
    theirs = {s.data for _, s in rest.refs}
    assert not mine & theirs
    assert mine | theirs == {f"mem://concurrent/{i}" for i in range(6)}
    assert backend.count_expired(now=now) == 0
