"""Processes of a run die or are stopped: a supervisor killed with SIGKILL, the runner
interrupted (SIGINT, SIGTERM) and its run resumed."""

from __future__ import annotations

import os
import signal
import time

import pytest

from .conftest import Faults, alive, free_port, run_of, run_summary

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


def test_a_killed_runner_s_tries_are_reported_then_resumed(faults: Faults) -> None:
    """The runner dies of SIGKILL: each supervisor gets SIGTERM from the kernel, stops its task
    and reports the try failed; the run is resumed later."""
    port = free_port()
    server_args = ("--api-url", f"http://127.0.0.1:{port}")
    with faults.server(port):
        run = faults.start_run("faults_resume", "--run-id", "r1", *server_args)
        run.wait_for(r"slow \\| READY")
        os.kill(run.proc.pid, signal.SIGKILL)
        run.proc.wait()
        deadline = time.monotonic() + 30
        while True:
            tis = run_of(faults, "faults_resume", "r1", *server_args)["task_instances"]
            slow = next(ti for ti in tis if ti["task_id"] == "slow")
            if slow["state"] != "running" or time.monotonic() > deadline:
                break
            time.sleep(0.05)  # the supervisor reports to the server; nothing tells the test
        assert (slow["state"], slow["end_reason"]) == ("failed", "interrupted")
        faults.assert_no_task_left()
        faults.go()
        resumed = faults.cli.dags_test(
            faults_dag(), "--dag-id", "faults_resume", "--run-id", "r1", "--resume",
            *server_args, env=faults.env(),
        )  # fmt: skip
        assert resumed.code == 0, str(resumed)
        assert resumed.summary()["slow"] == ("success", 2)
        faults.assert_no_task_left()
