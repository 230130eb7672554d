"""16 tasks x 500 ``update`` increments of one asset key give exactly 8,000, on every server
backend that keeps versions: SQLite and PostgreSQL (``--database=postgres``) through the
metastore, and Redis."""

from __future__ import annotations

import json
import re
import time

import pytest

from taskstate.testing.redis import available_server_url, temporary_prefix

from .conftest import DAGS, Cli

pytestmark = pytest.mark.e2e

TASKS, INCREMENTS = 16, 500
_COUNTED = re.compile(r"counted (\d+) retries=(\d+) seconds=([\d.]+)")


def _count(cli: Cli, env: dict[str, str] | None = None) -> None:
    started = time.perf_counter()
    run = cli.dags_test(DAGS / "counter.py", "--parallelism", str(TASKS), env=env, timeout=540.0)
    wall = time.perf_counter() - started
    assert run.code == 0, str(run)
    counted = [m.groups() for m in map(_COUNTED.search, run.stdout.splitlines()) if m]
    assert [int(c[0]) for c in counted] == [INCREMENTS] * TASKS
    [entry] = cli.run("state", "list", "--asset", "e2e_counter", "--json", env=env).json()
    assert entry["value"] == TASKS * INCREMENTS
    retries = sum(int(c[1]) for c in counted)
    # The figures, for the record (pytest -s shows them).
    print(f"\n{TASKS} x {INCREMENTS} updates: {wall:.1f} s, {retries} retries")


@pytest.mark.timeout(600)
def test_concurrent_updates_lose_no_increment(cli: Cli) -> None:
    _count(cli)


@pytest.mark.redis
@pytest.mark.timeout(600)
def test_concurrent_updates_lose_no_increment_on_redis(cli: Cli) -> None:
    url = available_server_url()
    with temporary_prefix(url) as prefix:
        env = {
            "TASKSTATE__STATE_STORE__BACKEND": "redis",
            "TASKSTATE__STATE_STORE__BACKEND_KWARGS": json.dumps(
                {"url": url, "prefix": prefix, "allow_volatile": True}
            ),
        }
        _count(cli, env)
