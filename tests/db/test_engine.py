"""Database: URL normalization, SQLite connection set-up, driver error translation."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Literal

import pytest
from sqlalchemy import text
from sqlalchemy.exc import (
    DBAPIError,
    IntegrityError,
    InterfaceError,
    OperationalError,
)

from taskstate.db import Database
from taskstate.db.engine import mask_url, translate_errors
from taskstate.errors import BackendError, ConfigError

PRAGMAS = {"journal_mode": "wal", "synchronous": 1, "foreign_keys": 1, "busy_timeout": 5000}


@pytest.mark.parametrize(
    "url",
    ["sqlite:////data/ts.db", "sqlite+pysqlite:////data/ts.db", "sqlite+aiosqlite:////data/ts.db"],
)
def test_sqlite_urls_pick_both_drivers(url: str, tmp_path: Path) -> None:
    database = Database(url.replace("/data", str(tmp_path)))
    try:
        assert database.dialect == "sqlite"
        assert database.engine.url.drivername == "sqlite+pysqlite"
        assert database.async_engine.url.drivername == "sqlite+aiosqlite"
        assert database.engine.url.database == str(tmp_path / "ts.db")
    finally:
        database.dispose()


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://u:pw@db.example:5432/ts",
        "postgresql+psycopg://u:pw@db.example:5432/ts",
        "postgres://u:pw@db.example:5432/ts",
    ],
)
def test_postgres_urls_use_psycopg_for_both(url: str) -> None:
    database = Database(url)
    try:
        assert database.dialect == "postgresql"
        assert database.engine.url.drivername == "postgresql+psycopg"
        assert database.async_engine.url.drivername == "postgresql+psycopg"
        assert database.masked_url == "postgresql+psycopg://u:***@db.example:5432/ts"
        assert "pw" not in repr(database)
    finally:
        database.dispose()


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("mysql://u@h/db", "'mysql'"),
        ("postgresql+asyncpg://u@h/db", "'postgresql+asyncpg'"),
        ("postgresql+psycopg2://u@h/db", "'postgresql+psycopg2'"),
        ("not a url", "not a database URL"),
        ("sqlite://", "in-memory"),
        ("sqlite:///:memory:", "in-memory"),
    ],
)
def test_unusable_urls_raise_config_error(url: str, reason: str) -> None:
    with pytest.raises(ConfigError, match=r"\[database\] url") as info:
        Database(url)
    assert reason in info.value.message
    assert info.value.detail["setting"] == "[database] url"


def test_creates_the_folder_of_the_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "a" / "b" / "taskstate.db"
    database = Database(f"sqlite:///{path}")
    try:
        assert path.parent.is_dir()
        with database.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        assert path.exists()
    finally:
        database.dispose()


def test_sqlite_connections_are_set_up(sqlite_database: Database) -> None:
    engines = [sqlite_database.engine, sqlite_database.autocommit_engine]
    for engine in engines:
        with engine.connect() as conn:
            for name, expected in PRAGMAS.items():
                assert conn.execute(text(f"PRAGMA {name}")).scalar() == expected, name

    async def check_async() -> None:
        for engine in (sqlite_database.async_engine, sqlite_database.async_autocommit_engine):
            async with engine.connect() as conn:
                for name, expected in PRAGMAS.items():
                    assert (await conn.execute(text(f"PRAGMA {name}"))).scalar() == expected

    asyncio.run(check_async())


def test_autocommit_engine_commits_each_statement(sqlite_database: Database) -> None:
    with sqlite_database.autocommit_engine.connect() as conn:
        conn.execute(text("CREATE TABLE t (x INTEGER)"))
        conn.execute(text("INSERT INTO t VALUES (1)"))
        conn.rollback()
    with sqlite_database.engine.connect() as conn:
        assert conn.execute(text("SELECT x FROM t")).scalar() == 1


def test_session_factories_are_bound(sqlite_database: Database) -> None:
    with sqlite_database.session_factory() as session:
        assert session.execute(text("SELECT 41 + 1")).scalar() == 42

    async def check() -> object:
        async with sqlite_database.async_session_factory() as session:
            return (await session.execute(text("SELECT 42"))).scalar()

    assert asyncio.run(check()) == 42


def test_pool_keeps_pool_size_connections_and_closes_the_overflow(tmp_path: Path) -> None:
    # More requests in flight than pool_size: the extra connections are opened, then closed on
    # return, so a steady load above pool_size reconnects on every request.
    database = Database(f"sqlite:///{tmp_path / 'ts.db'}", pool_size=2, max_overflow=1)
    try:
        for engine in (database.engine, database.autocommit_engine):
            held = [engine.connect() for _ in range(3)]
            assert engine.pool.checkedout() == 3
            for conn in held:
                conn.close()
            assert engine.pool.checkedin() == 2
    finally:
        database.dispose()


def test_unopenable_sqlite_file_raises_backend_error(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path}")  # a directory, not a file
    try:
        with (
            pytest.raises(BackendError, match="unable to open database file") as info,
            translate_errors(database.masked_url),
            database.engine.connect(),
        ):
            pass
        assert isinstance(info.value.__cause__, OperationalError)
        assert str(tmp_path) in info.value.message
    finally:
        database.dispose()


def test_unreachable_postgres_raises_backend_error_with_masked_url() -> None:
    database = Database("postgresql://taskstate:s3cret@127.0.0.1:1/ts")
    try:
        with (
            pytest.raises(BackendError) as info,
            translate_errors(database.masked_url),
            database.engine.connect(),
        ):
            pass
        assert "postgresql+psycopg://taskstate:***@127.0.0.1:1/ts" in info.value.message
        assert "s3cret" not in info.value.message
        assert "s3cret" not in str(info.value.detail)
        assert isinstance(info.value.__cause__, OperationalError)
    finally:
        database.dispose()


def test_mask_url() -> None:
    assert mask_url("postgresql://u:pw@h/db") == "postgresql://u:***@h/db"
    assert mask_url("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"
    assert mask_url("::not a url::") == "<unparsable URL>"


@pytest.mark.postgres
def test_postgres_engines_connect(postgres_url: str) -> None:
    database = Database(postgres_url)

    async def check() -> None:
        async with database.async_engine.connect() as conn:
            assert (await conn.execute(text("SELECT 1"))).scalar() == 1
        async with database.async_autocommit_engine.connect() as conn:
            assert (await conn.execute(text("SELECT 2"))).scalar() == 2
        await database.adispose()

    with database.engine.connect() as conn:
        assert conn.execute(text("SELECT current_database()")).scalar() == database.url.database
    asyncio.run(check())


def test_dispose_then_reuse(sqlite_database: Database) -> None:
    with sqlite_database.engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    sqlite_database.dispose()
    with sqlite_database.engine.connect() as conn:
        assert conn.execute(text("SELECT 1")).scalar() == 1


def test_sqlite_file_under_a_file_raises_config_error(tmp_path: Path) -> None:
    (tmp_path / "plain").write_text("")
    with pytest.raises(ConfigError, match=r"\[database\] url: cannot create the folder"):
        Database(f"sqlite:///{tmp_path / 'plain' / 'sub' / 'ts.db'}")


def test_a_new_sqlite_file_is_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "state.db"
    database = Database(f"sqlite:///{path}")
    try:
        assert path.stat().st_mode & 0o777 == 0o600
    finally:
        database.dispose()


@pytest.mark.parametrize(("mode", "level"), [("normal", 1), ("full", 2)])
def test_sqlite_synchronous_applies_to_every_connection(
    tmp_path: Path, mode: Literal["normal", "full"], level: int
) -> None:
    database = Database(f"sqlite:///{tmp_path}/ts.db", sqlite_synchronous=mode)
    try:
        for engine in (database.engine, database.autocommit_engine):
            with engine.connect() as conn:
                assert conn.execute(text("PRAGMA synchronous")).scalar() == level

        async def check_async() -> None:
            for engine in (database.async_engine, database.async_autocommit_engine):
                async with engine.connect() as conn:
                    assert (await conn.execute(text("PRAGMA synchronous"))).scalar() == level

        asyncio.run(check_async())
    finally:
        asyncio.run(database.adispose())


def test_an_unknown_sqlite_synchronous_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="sqlite_synchronous must be 'normal' or 'full'"):
        Database(f"sqlite:///{tmp_path}/ts.db", sqlite_synchronous="off")  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (OperationalError("SELECT 1", {}, Exception("server closed the connection")), True),
        (InterfaceError("SELECT 1", {}, Exception("connection already closed")), True),
        (IntegrityError("INSERT", {}, Exception("duplicate key")), False),
    ],
)
def test_a_lost_connection_is_marked_transient(error: DBAPIError, transient: bool) -> None:
    """Clients retry a 503 of the database only when it says it may pass (client._retry)."""
    with pytest.raises(BackendError) as info, translate_errors("sqlite:///x"):
        raise error
    assert info.value.detail["transient"] is transient
