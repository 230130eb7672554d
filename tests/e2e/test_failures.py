"""Tasks that fail: retried after ``set``, raising with no retry left, killed by SIGKILL, ending
with ``os._exit(3)``. The run finishes, marks what depends on a failure ``upstream_failed``,
still runs the branch that does not, and exits 1 (tests/e2e/dags/failures.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from .conftest import DAGS

pytestmark = pytest.mark.e2e

DAG = DAGS / "failures.py"

EXPECTED = {
    "flaky": ("success", 2),
    "boom": ("failed", 1),
    "after_boom": ("upstream_failed", 0),
    "after_after_boom": ("upstream_failed", 0),
    "killed": ("failed", 1),
    "after_killed": ("upstream_failed", 0),
    "exits": ("failed", 1),
    "unrelated": ("success", 1),
    "joined": ("success", 1),
}


@dataclass
class FailuresRun:
    cli: Any
    run: Any


@pytest.fixture(scope="module")
def failures(make_cli: Callable[..., Any]) -> FailuresRun:
    cli = make_cli("failures")
    return FailuresRun(cli, cli.dags_test(DAG, "--run-id", "r1", "--parallelism", "4"))


def test_the_run_fails_and_reports_every_task(failures: FailuresRun) -> None:
    run = failures.run
    assert run.code == 1, str(run)
    assert run.summary() == EXPECTED, str(run)
    assert "e2e_failures / r1: failed" in run.stdout


def test_the_api_agrees_with_the_summary(failures: FailuresRun) -> None:
    with failures.cli.api() as client:
        dag_run = client.get_run("e2e_failures", "r1")
    assert dag_run["state"] == "failed"
    states = {ti["task_id"]: (ti["state"], ti["try_number"]) for ti in dag_run["task_instances"]}
    assert states == EXPECTED
    assert {ti["map_index"] for ti in dag_run["task_instances"]} == {-1}


def test_a_retry_reads_what_the_failed_try_set(failures: FailuresRun) -> None:
    lines = failures.run.lines("flaky")
    assert "RuntimeError: flaky: try 1 fails after set" in lines
    assert (
        "[supervisor] try 1 failed: the task raised an exception; task instance is "
        "up_for_retry" in lines
    )
    assert "[runner] retrying in 0s" in lines
    assert 'flaky: try 2 read {"done": [1, 2], "step": 2}' in lines
    assert lines[-1] == "[supervisor] try 2 succeeded"


def test_a_failure_without_retries_skips_what_depends_on_it(failures: FailuresRun) -> None:
    run = failures.run
    assert "ValueError: boom: no retries left" in run.lines("boom")
    assert "[supervisor] try 1 failed: the task raised an exception; task instance is failed" in (
        run.lines("boom")
    )
    for task_id in ("after_boom", "after_after_boom", "after_killed"):
        assert run.lines(task_id) == ["[runner] skipped: an upstream task failed"]
    assert " ran" not in "".join(
        run.lines("after_boom") + run.lines("after_after_boom") + run.lines("after_killed")
    )


def test_unrelated_branches_still_run(failures: FailuresRun) -> None:
    assert "unrelated ran" in failures.run.lines("unrelated")
    assert "joined ran" in failures.run.lines("joined")


def test_a_task_killed_by_sigkill_fails(failures: FailuresRun) -> None:
    lines = failures.run.lines("killed")
    assert "killed: about to SIGKILL myself" in lines
    assert (
        "[supervisor] try 1 failed: the task process was killed by SIGKILL; task instance is failed"
    ) in lines, str(failures.run)


def test_a_task_that_calls_os_exit_fails_with_its_exit_code(failures: FailuresRun) -> None:
    lines = failures.run.lines("exits")
    assert "exits: calling os._exit(3)" in lines
    [report] = [line for line in lines if line.startswith("[supervisor] try 1 failed")]
    assert "code 3" in report and report.endswith("task instance is failed"), report


def test_state_set_before_a_failure_is_kept(failures: FailuresRun) -> None:
    assert failures.cli.task_keys("e2e_failures", "r1") == {
        "flaky": {"progress": {"step": 2, "done": [1, 2]}},
        "boom": {"before_boom": 1},
        "killed": {"before_kill": "kept"},
    }
