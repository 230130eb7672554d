"""A worker backend written against Apache Airflow 3.3.2's hooks (examples/
airflow_style_backend.py), configured by ``TASKSTATE__WORKERS__STATE_BACKEND``, under a DAG
that uses Airflow's context names: values are stored as files, small ones stay inline, delete
and clear purge their objects, and ``taskstate state purge`` removes those the API server
queued."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .conftest import DAGS, EXAMPLES, worker_backend_env

pytestmark = pytest.mark.e2e

DAG = DAGS / "airflow_hooks.py"
DAG_ID = "e2e_airflow_hooks"
BACKEND = "airflow_style_backend.FileStoreBackend"
JOB = {"id": "j-1", "log": "x" * 100}
WATERMARK = "2026-05-01T00:00:00+00:00" * 3


@dataclass
class AirflowHooksRun:
    cli: Any
    run: Any
    objects: Path


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def airflow_run(
    make_cli: Callable[..., Any], tmp_path_factory: pytest.TempPathFactory
) -> AirflowHooksRun:
    objects = tmp_path_factory.mktemp("objects")
    env = {
        **worker_backend_env(BACKEND, root=str(objects), inline_below=16),
        # The backend's module is in examples/, which a task process imports from here.
        "PYTHONPATH": str(EXAMPLES),
    }
    cli = make_cli("airflow-hooks", env)
    return AirflowHooksRun(cli, cli.dags_test(DAG, "--run-id", "r1"), objects)


def test_every_task_passes_with_airflows_context_names(airflow_run: AirflowHooksRun) -> None:
    run = airflow_run.run
    assert run.code == 0, str(run)
    assert run.summary() == {
        "task_keys": ("success", 2),
        "asset_keys": ("success", 1),
        "reads": ("success", 1),
    }
    for task_id in ("task_keys", "asset_keys", "reads"):
        assert f"{task_id}: PASS" in run.lines(task_id), str(run)


def test_references_carry_scope_and_key_and_small_values_stay_inline(
    airflow_run: AirflowHooksRun,
) -> None:
    entries = {e["key"]: e for e in airflow_run.cli.task_state(DAG_ID, "r1")}
    assert sorted(entries) == ["job", "kept", "small"]
    assert (entries["small"]["value"], entries["small"]["ref"]) == (1, None)
    [watermark] = airflow_run.cli.asset_state("e2e_airflow_ledger")
    stored = {}
    for entry in [entries["job"], entries["kept"], watermark]:
        assert entry["value"] is None and entry["backend"] == BACKEND
        *where, key, path = json.loads(entry["ref"])
        assert where == (
            ["asset", "e2e_airflow_ledger"]
            if entry is watermark
            else ["task", DAG_ID, "r1", "task_keys", -1]
        )
        assert key == entry["key"]
        stored[key] = Path(path)
    assert json.loads(stored["job"].read_text()) == JOB
    assert json.loads(stored["watermark"].read_text()) == WATERMARK
    # Every other object (gone, a, b, tmp, x, y) was purged by delete() and clear().
    assert _files(airflow_run.objects) == set(stored.values())


def test_purge_drains_what_the_api_server_queued(airflow_run: AirflowHooksRun) -> None:
    cli, root = airflow_run.cli, airflow_run.objects
    selector = ("--dag-id", DAG_ID, "--run-id", "r1", "--task-id", "task_keys")
    cleared = cli.run("state", "clear", *selector)
    assert cleared.code == 0, str(cleared)
    assert cli.task_state(DAG_ID, "r1") == []
    assert len(_files(root)) == 3  # the API server cannot reach them: they are queued

    purged = cli.run("state", "purge", "--path", EXAMPLES)
    assert purged.code == 0, str(purged)
    assert purged.stdout == "purged 2 queued objects\n"
    [left] = _files(root)  # the asset's watermark, still referenced
    assert json.loads(left.read_text()) == WATERMARK

    orphans = cli.run("state", "purge", "--path", EXAMPLES, "--orphans")
    assert orphans.code != 0
    assert "implements Apache Airflow's hooks" in orphans.stderr
    assert _files(root) == {left}
