"""``execution_timeout``: the supervisor stops a try that runs over (SIGTERM, then SIGKILL) and
fails it with the reason "timed out after N s"; the try's retries apply."""

from __future__ import annotations

import time
from collections.abc import Callable

from tests.supervisor.test_process import Harness, harness_for  # noqa: F401

from taskstate.supervisor.process import Outcome

SLEEPER = """
@task
def t():
    try:
        time.sleep(30)
    finally:
        print("cleaning up")
t()
"""

# Well below the 30 s the task sleeps: the try was stopped, not waited for.
STOPPED_WITHIN_SECONDS = 15.0
# The time counts from the task's call (TaskStarting); where a test checks what the task does on
# SIGTERM, this leaves it ample time to enter its try block or ignore the signal first.
REACHES_THE_TASK = 1.0


def test_a_try_that_runs_over_is_stopped_and_fails_with_the_reason(
    harness_for: Callable[[str], Harness],  # noqa: F811
) -> None:
    harness = harness_for(SLEEPER)
    ti_id = harness.register()

    began = time.monotonic()
    outcome, lines = harness.supervise(ti_id, execution_timeout=REACHES_THE_TASK)

    assert time.monotonic() - began < STOPPED_WITHIN_SECONDS
    assert outcome is Outcome.FAILED
    assert "[supervisor] timed out after 1 s; stopping the task process (SIGTERM)" in lines
    assert "cleaning up" in lines  # SIGTERM unwinds the task, running its finally blocks
    assert "taskstate.runtime.termination.TaskTerminated: the task process received SIGTERM" in (
        lines
    )
    assert lines[-1] == "[supervisor] try 1 failed: timed out after 1 s; task instance is failed"
    assert harness.ti(ti_id)["state"] == "failed"


def test_a_try_that_timed_out_is_retried(
    harness_for: Callable[[str], Harness],  # noqa: F811
) -> None:
    harness = harness_for(SLEEPER)
    ti_id = harness.register(retries=1)

    outcome, lines = harness.supervise(ti_id, execution_timeout=0.5)

    assert outcome is Outcome.FAILED
    assert lines[-1] == (
        "[supervisor] try 1 failed: timed out after 0.5 s; task instance is up_for_retry"
    )
    assert harness.ti(ti_id)["state"] == "up_for_retry"


def test_a_task_that_ignores_sigterm_is_killed_after_the_grace_period(
    harness_for: Callable[[str], Harness],  # noqa: F811
) -> None:
    harness = harness_for(
        """
        @task
        def t():
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            time.sleep(30)
        t()
        """
    )
    ti_id = harness.register()

    began = time.monotonic()
    outcome, lines = harness.supervise(
        ti_id, execution_timeout=REACHES_THE_TASK, kill_grace_seconds=0.3
    )

    assert time.monotonic() - began < STOPPED_WITHIN_SECONDS
    assert outcome is Outcome.FAILED
    assert lines[-3:] == [
        "[supervisor] timed out after 1 s; stopping the task process (SIGTERM)",
        "[supervisor] the task process is still running 0.3 s after SIGTERM; killing it (SIGKILL)",
        "[supervisor] try 1 failed: timed out after 1 s; task instance is failed",
    ]


def test_a_try_within_its_timeout_succeeds(
    harness_for: Callable[[str], Harness],  # noqa: F811
) -> None:
    harness = harness_for(
        """
        @task
        def t():
            print("quick")
        t()
        """
    )
    ti_id = harness.register()
    outcome, lines = harness.supervise(ti_id, execution_timeout=30.0)

    assert outcome is Outcome.SUCCESS, lines
    assert not any("timed out" in line for line in lines)


def test_the_deadline_is_kept_between_heartbeats(
    harness_for: Callable[[str], Harness],  # noqa: F811
) -> None:
    """A heartbeat far away does not delay the stop: the loop wakes for the deadline."""
    harness = harness_for(SLEEPER)
    ti_id = harness.register()

    began = time.monotonic()
    outcome, _ = harness.supervise(ti_id, execution_timeout=0.5, heartbeat_interval=60.0)

    assert outcome is Outcome.FAILED
    assert time.monotonic() - began < STOPPED_WITHIN_SECONDS


def test_loading_the_dag_file_does_not_count(
    harness_for: Callable[[str], Harness],  # noqa: F811
) -> None:
    """As in Airflow, the time counts from the task's call: a DAG file slower to import than
    the limit does not time its task out."""
    harness = harness_for(
        """
        time.sleep(1.5)  # while the DAG file is imported

        @task
        def t():
            print("called")
        t()
        """
    )
    ti_id = harness.register()
    outcome, lines = harness.supervise(ti_id, execution_timeout=0.5)

    assert outcome is Outcome.SUCCESS, lines
    assert "called" in lines
