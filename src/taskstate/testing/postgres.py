"""Throwaway PostgreSQL databases for tests.

Tests that need PostgreSQL take the server from ``TASKSTATE_TEST_POSTGRES_URL`` (by default the
local server, database ``test``), create a database of their own on it, and drop it at the end,
so runs never share tables. When the server does not answer, the tests are skipped with a note
on how to enable them; on CI (``CI=true``) they fail instead, so a missing service is noticed.

Migrating an empty database costs ten times as much as copying one, so a test session that
needs many migrated databases migrates one :func:`migrated_template` and gives every test a
copy of it: ``temporary_database(template=...)``.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import psycopg
from psycopg import sql
from psycopg.rows import TupleRow
from sqlalchemy.engine import URL, make_url

from taskstate.testing._services import server_unavailable

__all__ = [
    "DEFAULT_SERVER_URL",
    "ENV_VAR",
    "migrated_template",
    "server_url",
    "temporary_database",
]

ENV_VAR = "TASKSTATE_TEST_POSTGRES_URL"
DEFAULT_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/test"


def server_url() -> str:
    """The URL of a database on the server the tests may create databases on."""
    return os.environ.get(ENV_VAR) or DEFAULT_SERVER_URL


def _unavailable(url: str, exc: Exception) -> NoReturn:
    server_unavailable(
        "PostgreSQL", make_url(url).render_as_string(hide_password=True), exc, ENV_VAR
    )


def _admin_connection(admin: URL) -> psycopg.Connection[TupleRow]:
    libpq_url = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        return psycopg.connect(libpq_url, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        _unavailable(libpq_url, exc)


@contextmanager
def temporary_database(url: str | None = None, *, template: str | None = None) -> Iterator[str]:
    """Create a database on the server of ``url``; yield its URL; drop it afterwards.

    The new database is empty, or a copy of ``template`` (the URL of a database on the same
    server, which nobody may be connected to). Skips the calling test when the server does not
    answer (fails instead when ``CI=true``).
    """
    admin = make_url(url or server_url())
    name = f"taskstate_test_{secrets.token_hex(6)}"
    create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template is not None:
        source = sql.Identifier(make_url(template).database or "")
        create = sql.SQL("{} TEMPLATE {}").format(create, source)
    with _admin_connection(admin) as conn:
        conn.execute(create)
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with _admin_connection(admin) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@contextmanager
def migrated_template(url: str | None = None) -> Iterator[str]:
    """A temporary database at the newest schema, closed to connections, to copy with
    ``temporary_database(template=...)``; dropped afterwards."""
    from taskstate.db.migration import migrate

    with temporary_database(url) as template:
        migrate(template)  # closes its connections; a copy waits until they have ended
        name = sql.Identifier(make_url(template).database or "")
        with _admin_connection(make_url(url or server_url())) as conn:
            conn.execute(sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(name))
        yield template
