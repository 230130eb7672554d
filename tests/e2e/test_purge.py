"""The purge queue: references deleted through the public API leave their objects behind until
``taskstate state purge`` runs where the worker backend is configured."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
OBJECT_STORAGE = "taskstate.backends.object_storage.ObjectStorageStateBackend"


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_public_clear_queues_objects_and_purge_removes_them(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "objects"
    env = {
        "TASKSTATE__WORKERS__STATE_BACKEND": OBJECT_STORAGE,
        "TASKSTATE__WORKERS__STATE_BACKEND_KWARGS": json.dumps({"root": f"file://{root}"}),
    }
    run = cli.dags_test(EXAMPLES / "seed_task_state.py", "--run-id", "r1", env=env)
    assert run.code == 0, str(run)
    assert len(_files(root)) == 2  # job_id and checkpoint of the first task

    selector = ("--dag-id", "aip103_memory_backend_test", "--run-id", "r1")
    cleared = cli.run("state", "clear", *selector, "--task-id", "test_set_and_get", env=env)
    assert cleared.code == 0, str(cleared)
    listed = cli.run("state", "list", *selector, "--json", env=env)
    assert json.loads(listed.stdout) == []
    assert len(_files(root)) == 2  # the API server cannot reach them: they are queued

    purged = cli.run("state", "purge", env=env)
    assert purged.code == 0, str(purged)
    assert "purged 2 objects" in purged.stdout
    assert _files(root) == []


def test_purge_needs_a_worker_backend(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli.run("state", "purge")
    assert result.code == 2
    assert "error: state purge needs [workers] state_backend" in result.stderr
