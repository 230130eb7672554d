"""Processes of a run die or are stopped: a supervisor killed with SIGKILL, the runner
interrupted (SIGINT, SIGTERM) and its run resumed."""

from __future__ import annotations

import os
import signal

import pytest

from .conftest import Faults, alive, run_of, run_summary

pytestmark = pytest.mark.faults


def test_a_supervisor_killed_takes_its_task_process_with_it(faults: Faults) -> None:
    """Try 1's supervisor is killed while its task waits; try 2 creates the file try 1 waits
    for. A try 1 task still alive would then do its side effect beside try 2's."""
    run = faults.start_run("faults_side_effect", "--run-id", "r1")
    run.wait_for(r"effect \| READY")
    task_pid, supervisor_pid = map(int, (faults.dir / "try1.pids").read_text().split())
    os.kill(supervisor_pid, signal.SIGKILL)
    code, output = faults.end_of(run)
    assert code == 0, output
    assert run_summary(output) == {"effect": ("success", 2)}, output
    assert "supervisor ended with code -9 without reporting the try" in output
    assert faults.lines("effects") == ["try 2"]  # try 1 never did its side effect
    assert not alive(task_pid)
    faults.assert_no_task_left()


@pytest.mark.parametrize(("sig", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupted_run_is_recorded_then_resumed(
    faults: Faults, sig: signal.Signals, code: int
) -> None:
    run = faults.start_run("faults_resume", "--run-id", "r1")
    run.wait_for(r"slow \| READY")
    os.kill(run.proc.pid, sig)
    ended, output = faults.end_of(run)
    assert ended == code, output
    # The runner's own output has no traceback (a task's, prefixed by its task id, may).
    assert not [line for line in output.splitlines() if line.startswith("Traceback")], output
    assert f"interrupted by {sig.name}" in output
    assert run_summary(output) == {
        "first": ("success", 1),
        "slow": ("failed", 1),
        "last": ("failed", 0),
    }, output
    stored = run_of(faults, "faults_resume", "r1")
    assert (stored["state"], stored["end_reason"]) == ("failed", "interrupted")
    reasons = {ti["task_id"]: (ti["state"], ti["end_reason"]) for ti in stored["task_instances"]}
    assert reasons == {
        "first": ("success", None),
        "slow": ("failed", "interrupted"),
        "last": ("failed", "interrupted"),
    }
    faults.assert_no_task_left()

    faults.go()
    resumed = faults.cli.dags_test(
        faults_dag(), "--dag-id", "faults_resume", "--run-id", "r1", "--resume", env=faults.env()
    )
    assert resumed.code == 0, str(resumed)
    assert resumed.summary() == {
        "first": ("success", 1),
        "slow": ("success", 2),
        "last": ("success", 1),
    }, str(resumed)
    # The second try of slow started from the first's checkpoint: its state was kept.
    assert "checkpoint before: try 1" in resumed.lines("slow")
    assert faults.lines("effects") == ["first", "slow try 2", "last"]
    assert run_of(faults, "faults_resume", "r1")["state"] == "success"
    faults.acked_keys_present("faults_resume", "r1")
    faults.assert_no_task_left()


def faults_dag() -> os.PathLike[str]:
    from .conftest import DAG_FILE

    return DAG_FILE
