"""The runner's part in logs and timeouts: it hands each supervisor the log folder, the log
level and the task's execution_timeout, and adds its own lines about a try to the try's file."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from tests.runner.conftest import Run

from taskstate.supervisor.logfile import task_instance_log_folder


def test_each_try_has_a_file_with_the_supervisors_and_the_runners_lines(
    make_run: Callable[..., Run],
    tmp_path: Path,
) -> None:
    logs = tmp_path / "logs"
    run = make_run(
        """
        import logging

        @task(retries=1)
        def flaky(ti):
            logging.info("info is below the level")
            logging.warning("try %d", ti.try_number)
            if ti.try_number == 1:
                raise RuntimeError("first try fails")

        @task
        def each(n):
            print(f"item {n}")

        @task
        def lost():
            os.kill(os.getppid(), signal.SIGKILL)

        @task
        def after_lost():
            pass

        flaky()
        each.expand(n=[10, 20])
        lost() >> after_lost()
        """,
        "runner_logs",
        log_folder=logs,
        log_level="WARNING",
    )
    run.run()

    def log(task_id: str, attempt: int, map_index: int = -1) -> list[str]:
        folder = task_instance_log_folder(logs, "runner_logs", "r1", task_id, map_index)
        return (folder / f"attempt={attempt}.log").read_text().splitlines()

    first, second = log("flaky", 1), log("flaky", 2)
    assert first[0] == "[supervisor] try 1 of flaky started"
    assert first[-2:] == [
        "[supervisor] try 1 failed: the task raised an exception; task instance is up_for_retry",
        "[runner] retrying in 0s",
    ]
    assert any(line.endswith("try 1 [root] loc=runner_logs.py:12") for line in first)
    assert not any("below the level" in line for line in first + second)
    assert second[-1] == "[supervisor] try 2 succeeded"
    assert first + second == run.lines("flaky")

    assert "item 20" in log("each", 1, map_index=1)
    assert log("each", 1, map_index=0) == run.lines("each[0]")

    lost = log("lost", 1)
    assert lost[0] == "[supervisor] try 1 of lost started"
    assert lost[-1] == (
        "[runner] the supervisor ended with code -9 without reporting the try; marking it failed"
    )
    assert not task_instance_log_folder(logs, "runner_logs", "r1", "after_lost").exists()


def test_the_tasks_execution_timeout_stops_each_try(
    make_run: Callable[..., Run],
    tmp_path: Path,
) -> None:
    run = make_run(
        """
        from datetime import timedelta

        @task(execution_timeout=timedelta(seconds=0.5), retries=1)
        def slow():
            time.sleep(30)

        @task(execution_timeout=timedelta(seconds=30))
        def quick():
            pass

        slow()
        quick()
        """,
        "runner_timeouts",
        log_folder=tmp_path / "logs",
    )
    began = time.monotonic()
    result = run.run()

    assert time.monotonic() - began < 20
    states = {ti["task_id"]: (ti["state"], ti["try_number"]) for ti in result.task_instances}
    assert states == {"slow": ("failed", 2), "quick": ("success", 1)}
    lines = run.lines("slow")
    assert (
        lines.count("[supervisor] timed out after 0.5 s; stopping the task process (SIGTERM)") == 2
    )
    assert (
        "[supervisor] try 1 failed: timed out after 0.5 s; task instance is up_for_retry" in lines
    )
    assert lines[-1] == "[supervisor] try 2 failed: timed out after 0.5 s; task instance is failed"
