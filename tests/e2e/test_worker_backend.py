"""A worker-side backend of the user's own (tests/e2e/dags/file_state_backend.py, beside the
DAG): objects outlive the task process, so retries resolve their references; values past the
database's size limit are fine; a backend that fails raises a typed error in the task."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .conftest import DAGS, worker_backend_env

pytestmark = pytest.mark.e2e

DAG = DAGS / "worker_backend.py"
BACKEND = "file_state_backend.FileStateBackend"


@dataclass
class WorkerBackendRun:
    cli: Any
    run: Any
    objects: Path


@pytest.fixture(scope="module")
def worker_run(
    make_cli: Callable[..., Any], tmp_path_factory: pytest.TempPathFactory
) -> WorkerBackendRun:
    objects = tmp_path_factory.mktemp("objects")
    env = {
        **worker_backend_env(BACKEND, root=str(objects)),
        "TASKSTATE__STATE_STORE__MAX_VALUE_BYTES": "1000",
        "E2E_OBJECTS": str(objects),
    }
    cli = make_cli("worker-backend", env)
    return WorkerBackendRun(cli, cli.dags_test(DAG, "--run-id", "r1"), objects)


def test_every_task_passes(worker_run: WorkerBackendRun) -> None:
    run = worker_run.run
    assert run.code == 0, str(run)
    assert run.summary() == {
        "big": ("success", 1),
        "broken": ("success", 1),
        "resumes": ("success", 2),
        "reads": ("success", 1),
    }
    for task_id in ("resumes", "big", "broken", "reads"):
        assert f"{task_id}: PASS" in run.lines(task_id), str(run)


def test_backend_failures_are_typed_errors_in_the_task(worker_run: WorkerBackendRun) -> None:
    raised = [line for line in worker_run.run.lines("broken") if line.startswith("raised ")]
    assert len(raised) == 3, raised
    store, resolve, purge = raised
    assert store.startswith(f"raised BackendError: worker backend {BACKEND!r} failed to store")
    assert "OSError: no space left on device (on purpose)" in store
    assert resolve.startswith("raised ReferenceResolutionError: task state key 'gone'")
    assert "FileNotFoundError" in resolve
    assert purge.startswith("raised BackendError: task state: the references were removed")


def test_only_references_reach_the_database(worker_run: WorkerBackendRun) -> None:
    entries = worker_run.cli.task_state("e2e_worker_backend", "r1")
    assert sorted((e["task_id"], e["key"]) for e in entries) == [
        ("big", "blob"),
        ("resumes", "job"),
    ]
    [ledger] = worker_run.cli.asset_state("e2e_ledger")
    for entry in [*entries, ledger]:
        assert entry["value"] is None and entry["backend"] == BACKEND
        assert entry["ref"].startswith(f"file://{worker_run.objects}/")
    by_key = {e["key"]: Path(e["ref"].removeprefix("file://")) for e in [*entries, ledger]}
    assert json.loads(by_key["blob"].read_text()) == "x" * 5000
    assert json.loads(by_key["job"].read_text()) == {"id": "j-1", "parts": [1, 2]}
    assert json.loads(by_key["balance"].read_text()) == 105
    # Every object still stored is referenced: delete and clear purged the others.
    assert {p.name for p in worker_run.objects.iterdir()} == {p.name for p in by_key.values()}
