"""Migrated databases for the backends' tests (SQLite per module, PostgreSQL per session), and
a Redis prefix of each test's own."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from taskstate.db import Database, ensure_schema
from taskstate.testing.postgres import temporary_database
from taskstate.testing.redis import available_server_url, temporary_prefix


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


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The Redis server of the tests (skipped, or failed under CI, when none answers)."""
    return available_server_url()


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    """A key prefix of the test's own, its keys removed afterwards."""
    with temporary_prefix(redis_url) as prefix:
        yield prefix


@pytest.fixture
def raw(redis_url: str) -> Iterator[redis.Redis]:
    """A plain client, to look at the keys a backend wrote."""
    with redis.Redis.from_url(redis_url, decode_responses=True) as client:
        yield client
