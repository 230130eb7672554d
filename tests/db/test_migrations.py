"""Alembic migrations: from empty to head, idempotent, in step with the models."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import warnings
from collections.abc import Iterator

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.exc import SAWarning

from taskstate.db import Database, current_revision, ensure_schema, migrate
from taskstate.db.migration import HEAD_REVISION, MIGRATIONS_DIR, _alembic_config
from taskstate.db.models import metadata
from taskstate.errors import BackendError, ConfigError
from taskstate.testing.postgres import temporary_database

TABLES = {
    "alembic_version",
    "asset",
    "asset_state",
    "dag_run",
    "purge_queue",
    "task_instance",
    "task_instance_asset",
    "task_output",
    "task_state",
}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, sqlite_url: str) -> Iterator[str]:
    """The URL of an empty database: a new SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield sqlite_url
    else:
        with temporary_database() as url:
            yield url


def _tables(url: str) -> set[str]:
    database = Database(url)
    try:
        with database.engine.connect() as conn:
            return set(inspect(conn).get_table_names())
    finally:
        database.dispose()


def _set_revision(url: str, revision: str) -> None:
    database = Database(url)
    try:
        with database.engine.begin() as conn:
            conn.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})
    finally:
        database.dispose()


def test_head_revision_is_alembics_head() -> None:
    script = ScriptDirectory(str(MIGRATIONS_DIR))
    assert script.get_heads() == [HEAD_REVISION]


def test_migrate_from_empty_then_again(empty_url: str) -> None:
    assert current_revision(empty_url) is None
    assert migrate(empty_url) == (None, HEAD_REVISION)
    assert _tables(empty_url) == TABLES
    assert current_revision(empty_url) == HEAD_REVISION
    assert migrate(empty_url) == (HEAD_REVISION, HEAD_REVISION)
    assert _tables(empty_url) == TABLES


def test_models_match_the_migrations(empty_url: str) -> None:
    migrate(empty_url)
    database = Database(empty_url)
    try:
        with database.engine.connect() as conn, warnings.catch_warnings():
            # SQLAlchemy cannot reflect the expression indexes of migration 0003; they are
            # checked by name below instead.
            warnings.filterwarnings("ignore", "Skipped unsupported reflection", SAWarning)
            warnings.filterwarnings("ignore", "autogenerate skipping .* expression-based index")
            diff = compare_metadata(MigrationContext.configure(conn), metadata)
            if conn.dialect.name == "sqlite":
                query = "SELECT name FROM sqlite_master WHERE type = 'index'"
            else:
                query = "SELECT indexname FROM pg_indexes"
            indexes = set(conn.execute(text(query)).scalars())
    finally:
        database.dispose()
    assert diff == []
    assert {"ix_task_state_ref", "ix_asset_state_ref"} <= indexes


def test_downgrade_to_base_and_back(sqlite_url: str) -> None:
    migrate(sqlite_url)
    database = Database(sqlite_url)
    try:
        config = _alembic_config()
        with database.engine.begin() as conn:
            config.attributes["connection"] = conn
            command.downgrade(config, "base")
    finally:
        database.dispose()
    assert _tables(sqlite_url) == {"alembic_version"}
    assert migrate(sqlite_url) == (None, HEAD_REVISION)


def test_ensure_schema_migrates_an_empty_database(empty_url: str) -> None:
    database = Database(empty_url)
    try:
        ensure_schema(database)
        ensure_schema(database)
    finally:
        database.dispose()
    assert current_revision(empty_url) == HEAD_REVISION
    assert _tables(empty_url) == TABLES


def test_ensure_schema_at_head_is_one_query_without_alembic(sqlite_url: str) -> None:
    migrate(sqlite_url)
    script = textwrap.dedent(
        """
        import sys
        from sqlalchemy import event
        from taskstate.db import Database, ensure_schema

        database = Database(sys.argv[1])
        statements = []
        event.listen(
            database.engine, "before_cursor_execute", lambda *a: statements.append(a[2])
        )
        ensure_schema(database)
        database.dispose()
        imported = sorted(m for m in sys.modules if m.split(".")[0] == "alembic")
        print(len(statements), imported)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script, sqlite_url],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    assert result.stdout.strip() == "1 []"


def test_newer_revision_is_refused(empty_url: str) -> None:
    migrate(empty_url)
    _set_revision(empty_url, "9999")
    with pytest.raises(ConfigError, match=r"revision '9999'.*does not know") as info:
        migrate(empty_url)
    assert "[database] url" in info.value.message
    assert info.value.detail["revision"] == "9999"
    database = Database(empty_url)
    try:
        with pytest.raises(ConfigError, match="'9999'"):
            ensure_schema(database)
    finally:
        database.dispose()
    assert current_revision(empty_url) == "9999"


def test_migrate_unreachable_database_raises_backend_error() -> None:
    with pytest.raises(BackendError, match=r"taskstate:\*\*\*@127\.0\.0\.1:1/ts") as info:
        migrate("postgresql://taskstate:s3cret@127.0.0.1:1/ts")
    assert "s3cret" not in info.value.message
    with pytest.raises(BackendError):
        current_revision("postgresql://taskstate:s3cret@127.0.0.1:1/ts")


@pytest.mark.postgres
def test_concurrent_migrations_on_postgres_run_once() -> None:
    from concurrent.futures import ThreadPoolExecutor

    with temporary_database() as url, ThreadPoolExecutor(4) as pool:
        results = list(pool.map(migrate, [url] * 4))
    assert sorted(results, key=str) == sorted(
        [(None, HEAD_REVISION)] + [(HEAD_REVISION, HEAD_REVISION)] * 3, key=str
    )


def test_foreign_keys_are_enforced_again_after_migrating(sqlite_database: Database) -> None:
    ensure_schema(sqlite_database)
    for _ in range(3):  # whichever pooled connection comes back
        with sqlite_database.engine.connect() as conn:
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_upgrade_from_the_previous_revision(empty_url: str) -> None:
    from alembic import command

    migrate(empty_url)
    database = Database(empty_url)
    try:
        with database.engine.begin() as connection:
            config = _alembic_config()
            config.attributes["connection"] = connection
            command.downgrade(config, "0001")
    finally:
        database.dispose()
    assert current_revision(empty_url) == "0001"
    assert "purge_queue" not in _tables(empty_url)
    assert migrate(empty_url) == ("0001", HEAD_REVISION)
    assert _tables(empty_url) == TABLES
