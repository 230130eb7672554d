"""A private corner of a Redis server for one test.

Tests that need Redis take the server from ``TASKSTATE_TEST_REDIS_URL`` (by default the local
server, database 15) and work under a key prefix of their own, whose keys are deleted at the
end; nothing else on the server is touched (no FLUSHDB). When the server does not answer, the
tests are skipped with a note on how to enable them; on CI (``CI=true``) they fail instead, so a
missing service is noticed.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import redis

from taskstate.config.display import mask_url_password
from taskstate.testing._services import server_unavailable

__all__ = [
    "DEFAULT_SERVER_URL",
    "ENV_VAR",
    "available_server_url",
    "server_url",
    "temporary_prefix",
]

ENV_VAR = "TASKSTATE_TEST_REDIS_URL"
DEFAULT_SERVER_URL = "redis://127.0.0.1:6379/15"


def server_url() -> str:
    """The URL of the Redis database the tests may write to."""
    return os.environ.get(ENV_VAR) or DEFAULT_SERVER_URL


def _unavailable(url: str, exc: Exception) -> NoReturn:
    server_unavailable("Redis", mask_url_password(url), exc, ENV_VAR)


def available_server_url(url: str | None = None) -> str:
    """``url`` (by default :func:`server_url`) once the server answers a PING.

    Skips the calling test when it does not (fails instead when ``CI=true``).
    """
    url = url or server_url()
    client = redis.Redis.from_url(url, socket_connect_timeout=5, retry=None)
    try:
        client.ping()
    except redis.RedisError as exc:
        _unavailable(url, exc)
    finally:
        client.close()
    return url


@contextmanager
def temporary_prefix(url: str) -> Iterator[str]:
    """Yield a fresh key prefix; delete every key under it afterwards."""
    prefix = f"taskstate_test_{secrets.token_hex(6)}"
    try:
        yield prefix
    finally:
        with redis.Redis.from_url(url) as client:
            keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
            if keys:
                client.delete(*keys)
