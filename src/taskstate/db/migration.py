"""Bringing a metadata database to the schema this version of taskstate expects.

Alembic runs from code, with the migrations shipped inside the package, so no ``alembic.ini``
is needed. :func:`ensure_schema` runs whenever the API server starts; when the database is
already current it costs one small query and never imports Alembic.

On PostgreSQL, an upgrade holds a transaction-scoped advisory lock, so several servers starting
against the same database migrate it once. SQLite migrations are for one process at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError

from taskstate.db.engine import Database, translate_errors
from taskstate.errors import ConfigError

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = ["HEAD_REVISION", "current_revision", "ensure_schema", "migrate"]

HEAD_REVISION = "0010"
"""The newest revision this version of taskstate knows; a test keeps it equal to Alembic's head."""

MIGRATIONS_DIR = Path(__file__).with_name("migrations")

# pg_advisory_xact_lock key held while migrating: the bytes of "tskstate" as a bigint.
_LOCK_KEY = int.from_bytes(b"tskstate", "big") & 0x7FFF_FFFF_FFFF_FFFF

_SELECT_VERSION = text("SELECT version_num FROM alembic_version")


def _alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def _read_revision(connection: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def _upgrade(database: Database) -> tuple[str | None, str]:
    from alembic import command
    from alembic.script import ScriptDirectory

    config = _alembic_config()
    known = {script.revision for script in ScriptDirectory.from_config(config).walk_revisions()}
    with translate_errors(database.masked_url), _migration_connection(database) as connection:
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
        before = _read_revision(connection)
        if before is not None and before not in known:
            raise ConfigError(
                f"the metadata database at {database.masked_url} is at schema revision "
                f"{before!r}, which this version of taskstate does not know (its newest is "
                f"{HEAD_REVISION!r}); upgrade taskstate, or point [database] url at another "
                "database",
                detail={"setting": "[database] url", "revision": before, "head": HEAD_REVISION},
            )
        if before != HEAD_REVISION:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
        after = _read_revision(connection)
    assert after is not None
    return before, after


@contextmanager
def _migration_connection(database: Database) -> Iterator[Connection]:
    """A connection in a transaction for migrating; on SQLite, with foreign keys off.

    SQLite batch migrations rebuild a table by copying it and dropping the original; with
    foreign keys enforced, that drop would cascade into the rows that refer to it.
    """
    with database.engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        try:
            with connection.begin():
                yield connection
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()


def migrate(url: str) -> tuple[str | None, str]:
    """Upgrade the database at ``url`` to the newest schema; return (from, to) revisions.

    Running it again on a current database changes nothing and returns ``(head, head)``.
    Raises :class:`ConfigError` if the database is at a revision this version does not know.
    """
    database = Database(url, pool_size=1)
    try:
        return _upgrade(database)
    finally:
        database.dispose()


def current_revision(url: str) -> str | None:
    """The schema revision of the database at ``url``; None if it was never migrated."""
    database = Database(url, pool_size=1)
    try:
        with translate_errors(database.masked_url), database.engine.connect() as connection:
            return _read_revision(connection)
    finally:
        database.dispose()


def ensure_schema(database: Database) -> None:
    """Make sure ``database`` has the newest schema, migrating it if needed.

    When it is already current this is one query on ``alembic_version``, without Alembic.
    """
    with translate_errors(database.masked_url), database.engine.connect() as connection:
        try:
            revisions = connection.execute(_SELECT_VERSION).scalars().all()
        except DBAPIError:
            # No alembic_version table yet; anything worse shows up again in the migration.
            revisions = []
        connection.rollback()
    if revisions != [HEAD_REVISION]:
        _upgrade(database)
