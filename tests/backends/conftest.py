"""Migrated databases for the backends' tests: SQLite per module, PostgreSQL per session."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from taskstate.db import Database, ensure_schema
from taskstate.testing.postgres import temporary_database


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A database of this test session's own on the PostgreSQL server, dropped at the end."""
    with temporary_database() as url:
        yield url


def _migrated(url: str) -> Iterator[Database]:
    database = Database(url)
    ensure_schema(database)
    yield database
    asyncio.run(database.adispose())


@pytest.fixture(scope="module")
def sqlite_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    path: Path = tmp_path_factory.mktemp("metastore") / "taskstate.db"
    yield from _migrated(f"sqlite:///{path}")


@pytest.fixture(scope="module")
def postgres_database(postgres_url: str) -> Iterator[Database]:
    yield from _migrated(postgres_url)
