"""The seed's two DAGs, with the default (metastore) backend and with the seed's worker-side
``MemoryStateBackend`` (its module sits beside the DAGs in examples/)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from .conftest import EXAMPLES, MEMORY, SEED_PASS_LINES

pytestmark = pytest.mark.e2e


@dataclass
class SeedRuns:
    backend: str
    cli: Any
    task_run: Any
    asset_run: Any


@pytest.fixture(scope="module", params=["metastore", "memory"])
def seed(request: pytest.FixtureRequest, make_cli: Callable[..., Any]) -> SeedRuns:
    """Both seed DAGs run once, as run r1, in one home."""
    env = {"TASKSTATE__WORKERS__STATE_BACKEND": MEMORY} if request.param == "memory" else {}
    cli = make_cli(f"seed-{request.param}", env)
    task_run = cli.dags_test(EXAMPLES / "seed_task_state.py", "--run-id", "r1")
    asset_run = cli.dags_test(EXAMPLES / "seed_asset_state.py", "--run-id", "r1")
    return SeedRuns(request.param, cli, task_run, asset_run)


def test_both_dags_pass(seed: SeedRuns) -> None:
    for run in (seed.task_run, seed.asset_run):
        assert run.code == 0, str(run)
        lines = run.stdout.splitlines()
        for expected in SEED_PASS_LINES:
            assert expected in lines, str(run)
        assert run.summary() == {
            task: ("success", 1) for task in ("test_set_and_get", "test_delete", "test_clear")
        }


def test_only_the_first_tasks_keys_remain(seed: SeedRuns) -> None:
    entries = seed.cli.task_state("aip103_memory_backend_test", "r1")
    assert {e["task_id"] for e in entries} == {"test_set_and_get"}
    assert {e["run_id"] for e in entries} == {"r1"}
    assert sorted(e["key"] for e in entries) == ["checkpoint", "job_id"]
    by_key = {e["key"]: e for e in entries}
    if seed.backend == "metastore":
        assert {k: (e["value"], e["ref"]) for k, e in by_key.items()} == {
            "job_id": ("spark_app_001", None),
            "checkpoint": ("step_3", None),
        }
    else:
        # Only references reach the database; the values stayed with the worker backend.
        with seed.cli.api() as client:
            run = client.get_run("aip103_memory_backend_test", "r1")
        ti_id = next(
            ti["id"] for ti in run["task_instances"] if ti["task_id"] == "test_set_and_get"
        )
        for key, entry in by_key.items():
            assert entry["value"] is None
            assert entry["ref"] == f"mem://{ti_id}/{key}"
            assert entry["backend"] == MEMORY


def test_the_asset_holds_nothing(seed: SeedRuns) -> None:
    assert seed.cli.asset_state("memory_backend_test_asset") == []


def test_worker_backend_purges_on_delete_and_clear(seed: SeedRuns) -> None:
    task_lines = seed.task_run.lines
    asset_lines = seed.asset_run.lines
    if seed.backend == "metastore":
        assert "[MemoryStateBackend]" not in seed.task_run.stdout + seed.asset_run.stdout
        return
    purged = [line for line in task_lines("test_delete") if "task purged" in line]
    assert len(purged) == 1 and purged[0].endswith("/to_delete'"), str(seed.task_run)
    purged = [line for line in task_lines("test_clear") if "task purged" in line]
    assert [line.rsplit("/", 1)[1] for line in purged] == ["key_a'", "key_b'"], str(seed.task_run)
    assert "[MemoryStateBackend] asset purged 'mem://memory_backend_test_asset/to_delete'" in (
        asset_lines("test_delete")
    )
    assert [line for line in asset_lines("test_clear") if "asset purged" in line] == [
        f"[MemoryStateBackend] asset purged 'mem://memory_backend_test_asset/{key}'"
        for key in ("key_a", "key_b")
    ]
    # The values went through the hooks as JSON text and came back as the values set.
    assert "get('job_id') = 'spark_app_001'" in task_lines("test_set_and_get")
    assert "get('file_count') = '42'" in asset_lines("test_set_and_get")
