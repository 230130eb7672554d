"""Both backends at once, as in the seed's last diagram: the worker-side backend keeps the values,
the Redis server-side backend keeps only the references, and the SQL tables stay empty."""

from __future__ import annotations

import json

import pytest

from taskstate.testing.redis import available_server_url, temporary_prefix

from .conftest import EXAMPLES, MEMORY

pytestmark = [pytest.mark.e2e, pytest.mark.redis]


def test_seed_dag_with_memory_worker_backend_and_redis_server_backend(cli) -> None:  # type: ignore[no-untyped-def]
    url = available_server_url()
    with temporary_prefix(url) as prefix:
        env = {
            "TASKSTATE__WORKERS__STATE_BACKEND": MEMORY,
            "TASKSTATE__STATE_STORE__BACKEND": "redis",
            "TASKSTATE__STATE_STORE__BACKEND_KWARGS": json.dumps(
                {"url": url, "prefix": prefix, "allow_volatile": True}
            ),
        }
        run = cli.dags_test(EXAMPLES / "seed_task_state.py", "--run-id", "r1", env=env)
        assert run.code == 0, str(run)
        for line in ("set + get: PASS", "delete: PASS", "clear: PASS"):
            assert line in run.stdout
        assert "[MemoryStateBackend] task purged" in run.stdout

        listed = cli.run(
            "state",
            "list",
            "--dag-id",
            "aip103_memory_backend_test",
            "--run-id",
            "r1",
            "--json",
            env=env,
        )
        entries = json.loads(listed.stdout)
        assert sorted(e["key"] for e in entries) == ["checkpoint", "job_id"]
        for entry in entries:
            assert entry["value"] is None
            assert entry["ref"].startswith("mem://")
            assert entry["backend"] == MEMORY

    assert cli.query("SELECT count(*) FROM task_state") == [(0,)]
    assert cli.query("SELECT count(*) FROM asset_state") == [(0,)]
