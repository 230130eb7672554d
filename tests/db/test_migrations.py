"""Alembic migrations: from empty to head, idempotent, in step with the models."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import warnings
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, MetaData, inspect, select, text
from sqlalchemy.exc import SAWarning

from taskstate.backends.metastore import MetastoreStateBackend
from taskstate.db import Database, current_revision, ensure_schema, migrate
from taskstate.db.migration import HEAD_REVISION, MIGRATIONS_DIR, _alembic_config
from taskstate.db.models import metadata
from taskstate.errors import BackendError, ConfigError
from taskstate.state import AssetScope, StoredValue, TaskScope
from taskstate.testing.postgres import temporary_database

TABLES = {
    "alembic_version",
    "asset",
    "asset_event",
    "asset_state",
    "dag_run",
    "purge_queue",
    "request_reply",
    "task_instance",
    "task_instance_alias",
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


def _alembic(url: str, step: Callable[[Config, str], None], revision: str) -> None:
    """``alembic upgrade/downgrade revision`` on the database at ``url``."""
    database = Database(url)
    try:
        with database.engine.begin() as connection:
            config = _alembic_config()
            config.attributes["connection"] = connection
            step(config, revision)
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
    _alembic(sqlite_url, command.downgrade, "base")
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
    migrate(empty_url)
    _alembic(empty_url, command.downgrade, "0001")
    assert current_revision(empty_url) == "0001"
    assert "purge_queue" not in _tables(empty_url)
    assert migrate(empty_url) == ("0001", HEAD_REVISION)
    assert _tables(empty_url) == TABLES


_AT_0003 = {
    "dag_run": [
        {"id": 1, "dag_id": "etl", "run_id": "r1", "state": "success", "dag_file": "/d/etl.py"},
    ],
    "task_instance": [
        {"id": "00000000-0000-0000-0000-00000000000a", "task_id": "submit", "map_index": -1},
        {"id": "00000000-0000-0000-0000-00000000000b", "task_id": "fan", "map_index": 3},
    ],
    "asset": [{"id": 7, "name": "orders", "uri": "s3://lake/orders"}],
    "task_instance_asset": [
        {"ti_id": "00000000-0000-0000-0000-00000000000b", "asset_id": 7, "role": "inlet"},
    ],
    "task_state": [
        {"ti_id": "00000000-0000-0000-0000-00000000000a", "key": "job", "data": '{"id": "j-1"}'},
        {
            "ti_id": "00000000-0000-0000-0000-00000000000b",
            "key": "blob",
            "data": "file:///objects/task/b",
            "ref_backend": "pkg.Backend",
        },
    ],
    "asset_state": [{"asset_id": 7, "key": "watermark", "data": '"2026-01-01"'}],
    "purge_queue": [
        {"id": 1, "kind": "task", "ref": "file:///objects/task/gone", "ref_backend": "pkg.B"},
    ],
}
"""Rows of every table as they stood at revision 0003, in primary-key order; the columns these
leave out are filled in by ``_rows_at_0003``."""


def _rows_at_0003() -> dict[str, list[dict[str, Any]]]:
    when = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
    filled: dict[str, dict[str, Any]] = {
        "dag_run": {"created_at": when, "updated_at": when, "ended_at": when},
        "task_instance": {
            "dag_id": "etl",
            "run_id": "r1",
            "state": "success",
            "try_number": 2,
            "max_tries": 1,
            "retry_delay_seconds": 1.5,
            "started_at": when,
            "ended_at": when,
            "updated_at": when,
            "hostname": "worker-1",
            "pid": 4242,
        },
        "asset": {"created_at": when},
        "task_instance_asset": {},
        "task_state": {"ref_backend": None, "updated_at": when},
        "asset_state": {"ref_backend": None, "updated_at": when},
        "purge_queue": {"created_at": when},
    }
    return {table: [{**filled[table], **row} for row in rows] for table, rows in _AT_0003.items()}


def _reflect(connection: Connection, tables: list[str]) -> MetaData:
    meta = MetaData()
    with warnings.catch_warnings():
        # The expression indexes of migration 0003 cannot be reflected; the columns can.
        warnings.filterwarnings("ignore", "Skipped unsupported reflection", SAWarning)
        meta.reflect(connection, only=tables)
    return meta


def _read_rows(url: str, tables: list[str]) -> dict[str, list[dict[str, Any]]]:
    database = Database(url)
    try:
        with database.engine.connect() as conn:
            meta = _reflect(conn, tables)
            found = {}
            for name in tables:
                table = meta.tables[name]
                query = select(table).order_by(*table.primary_key.columns)
                found[name] = [dict(row._mapping) for row in conn.execute(query)]
            return found
    finally:
        database.dispose()


def _utc(rows: dict[str, list[dict[str, Any]]]) -> dict[str, list[dict[str, Any]]]:
    """Timestamps as aware UTC: SQLite hands back the stored wall time without a zone."""

    def fix(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value

    return {t: [{k: fix(v) for k, v in row.items()} for row in rs] for t, rs in rows.items()}


def test_data_at_0003_survives_the_upgrade_to_head(empty_url: str) -> None:
    _alembic(empty_url, command.upgrade, "0003")
    rows = _rows_at_0003()
    database = Database(empty_url)
    try:
        with database.engine.begin() as connection:
            meta = _reflect(connection, list(rows))
            for name, table_rows in rows.items():
                connection.execute(meta.tables[name].insert(), table_rows)
    finally:
        database.dispose()

    assert migrate(empty_url) == ("0003", HEAD_REVISION)

    after = _utc(_read_rows(empty_url, [*rows, "task_output"]))
    assert after.pop("task_output") == []
    for name in ("task_state", "asset_state"):  # the columns 0004 added, empty; 0008's at 1
        for row in after[name]:
            assert (row.pop("expires_at"), row.pop("written_by")) == (None, None)
            assert row.pop("version") == 1
            assert row.pop("encryption") is None  # added by 0009
    for row in after["dag_run"]:  # the columns 0005 added, empty
        added = ("logical_date", "data_interval_start", "data_interval_end", "conf")
        assert [row.pop(column) for column in added] == [None] * 4
        assert row.pop("end_reason") is None  # 0007
    for row in after["task_instance"]:  # 0007: no reason yet; the retries max_tries held
        assert row.pop("end_reason") is None
        assert row.pop("retries") == row["max_tries"]
    for row in after["purge_queue"]:  # 0010: no scope recorded, not claimed, not purged
        added = ("owner", "key", "claim", "claimed_until", "purged_seq")
        assert [row.pop(column) for column in added] == [None] * 5
    assert after == rows

    # And the server's backend reads what was stored before the upgrade.
    database = Database(empty_url)
    try:
        backend = MetastoreStateBackend(database)
        job = backend.get(TaskScope("etl", "r1", "submit"), "job")
        blob = backend.get(TaskScope("etl", "r1", "fan", 3), "blob")
        mark = backend.get(AssetScope("orders"), "watermark")
    finally:
        database.dispose()
    assert job == StoredValue('{"id": "j-1"}', None)
    assert blob == StoredValue("file:///objects/task/b", "pkg.Backend")
    assert mark == StoredValue('"2026-01-01"', None)


def test_an_output_at_0004_becomes_the_return_value_xcom(empty_url: str) -> None:
    _alembic(empty_url, command.upgrade, "0004")
    rows = _rows_at_0003()
    ti_id = rows["task_instance"][0]["id"]
    when = datetime(2026, 3, 1, 12, 30, tzinfo=UTC)
    database = Database(empty_url)
    try:
        with database.engine.begin() as connection:
            meta = _reflect(connection, ["dag_run", "task_instance", "task_output"])
            connection.execute(meta.tables["dag_run"].insert(), rows["dag_run"])
            connection.execute(meta.tables["task_instance"].insert(), rows["task_instance"])
            output = {"ti_id": ti_id, "data": "[1, 2]", "updated_at": when}
            connection.execute(meta.tables["task_output"].insert(), [output])
    finally:
        database.dispose()

    assert migrate(empty_url) == ("0004", HEAD_REVISION)

    (row,) = _read_rows(empty_url, ["task_output"])["task_output"]
    assert (row["ti_id"], row["key"], row["data"]) == (ti_id, "return_value", "[1, 2]")
