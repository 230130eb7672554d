"""A throwaway PostgreSQL database for a test session.

Tests that need PostgreSQL take the server from ``TASKSTATE_TEST_POSTGRES_URL`` (by default the
local server, database ``test``), create a database of their own on it, and drop it at the end,
so runs never share tables. When the server does not answer, the tests are skipped with a note
on how to enable them; on CI (``CI=true``) they fail instead, so a missing service is noticed.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from taskstate.testing._services import server_unavailable

__all__ = ["DEFAULT_SERVER_URL", "ENV_VAR", "server_url", "temporary_database"]

ENV_VAR = "TASKSTATE_TEST_POSTGRES_URL"
DEFAULT_SERVER_URL = "postgresql://postgres@127.0.0.1:5432/test"


def server_url() -> str:
    """The URL of a database on the server the tests may create databases on."""
    return os.environ.get(ENV_VAR) or DEFAULT_SERVER_URL


def _unavailable(url: str, exc: Exception) -> NoReturn:
    server_unavailable(
        "PostgreSQL", make_url(url).render_as_string(hide_password=True), exc, ENV_VAR
    )


@contextmanager
def temporary_database(url: str | None = None) -> Iterator[str]:
    """Create an empty database on the server of ``url``; yield its URL; drop it afterwards.

    Skips the calling test when the server does not answer (fails instead when ``CI=true``).
    """
    admin = make_url(url or server_url())
    libpq_url = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"taskstate_test_{secrets.token_hex(6)}"
    try:
        conn = psycopg.connect(libpq_url, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        _unavailable(libpq_url, exc)
    with conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(libpq_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
