"""Logs as a user sees them (tests/e2e/dags/logs.py): a task's ``logging`` records and output in
the terminal, each try in a file under ``$TASKSTATE_HOME/logs``, ``taskstate tasks logs``
printing it back, tracebacks that start at the DAG file, and ``execution_timeout`` stopping
tries that run over."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from taskstate.supervisor.logfile import task_instance_log_folder

from .conftest import DAGS, RETURN_LOG_LINE, Row

pytestmark = pytest.mark.e2e

DAG = DAGS / "logs.py"
DAG_ID = "e2e_logs"
RUN_ID = "manual__2026-01-01T00:00:00+00:00"  # ':' and '+' are encoded in the folder name

EXPECTED = {
    "talk": Row("success", 1),
    "flaky": Row("success", 2),
    "each[0]": Row("success", 1),
    "each[1]": Row("success", 1),
    "broken": Row("failed", 1),
    "never": Row("upstream_failed", 0),
    "sleepy": Row("failed", 1),
    "sleepy_retried": Row("failed", 2),
}
LOG_LINE = re.compile(r"^\S+Z \[(?P<level>[a-z]+) *\] (?P<message>.*) \[(?P<logger>[^\]]+)\] loc=")


@dataclass
class LogsRun:
    cli: Any
    run: Any
    seconds: float

    def logs(self, task_id: str, *options: str) -> Any:
        return self.cli.run(
            "tasks", "logs", "--dag-id", DAG_ID, "--run-id", RUN_ID, "--task-id", task_id, *options
        )


@pytest.fixture(scope="module")
def logs_run(make_cli: Callable[..., Any]) -> LogsRun:
    cli = make_cli("logs")
    began = time.monotonic()
    run = cli.dags_test(DAG, "--run-id", RUN_ID, "--parallelism", "4")
    return LogsRun(cli, run, time.monotonic() - began)


def records(lines: list[str]) -> list[tuple[str, str, str]]:
    return [(m["level"], m["message"], m["logger"]) for m in map(LOG_LINE.match, lines) if m]


def first_frame_after_traceback(lines: list[str]) -> str:
    return lines[lines.index("Traceback (most recent call last):") + 1]


def test_the_run_ends_as_expected(logs_run: LogsRun) -> None:
    assert logs_run.run.code == 1, str(logs_run.run)
    assert logs_run.run.summary() == EXPECTED, str(logs_run.run)


def test_logging_and_output_are_shown_in_the_terminal(logs_run: LogsRun) -> None:
    lines = logs_run.run.lines("talk")
    assert "printed to stdout" in lines and "printed to stderr" in lines
    assert records(lines) == [
        ("info", "root logger at info", "root"),
        ("warning", "named logger at warning", "etl.orders"),
    ]
    assert records(logs_run.run.lines("each[1]")) == [("info", "item 2", "etl.orders")]


def test_each_try_is_written_to_its_file_under_the_home(logs_run: LogsRun) -> None:
    logs = logs_run.cli.home / "logs"
    folder = task_instance_log_folder(logs, DAG_ID, RUN_ID, "flaky")
    assert folder.relative_to(logs).as_posix() == (
        "dag_id=e2e_logs/run_id=manual__2026-01-01T00%3A00%3A00%2B00%3A00/task_id=flaky"
    )
    first = (folder / "attempt=1.log").read_text().splitlines()
    second = (folder / "attempt=2.log").read_text().splitlines()
    logged = [line for line in first + second if RETURN_LOG_LINE not in line]
    assert logged == logs_run.run.lines("flaky")
    assert first[-1] == "[runner] retrying in 0s"
    mapped = task_instance_log_folder(logs, DAG_ID, RUN_ID, "each", 0) / "attempt=1.log"
    assert ("info", "item 1", "etl.orders") in records(mapped.read_text().splitlines())
    assert not task_instance_log_folder(logs, DAG_ID, RUN_ID, "never").exists()


def test_tasks_logs_prints_the_latest_try_or_the_one_asked_for(logs_run: LogsRun) -> None:
    latest = logs_run.logs("flaky")
    first = logs_run.logs("flaky", "--try", "1")

    assert latest.code == 0 and first.code == 0, str(latest) + str(first)
    assert latest.stdout.splitlines()[0] == "[supervisor] try 2 of flaky started"
    assert ("info", "try 2", "etl.orders") in records(latest.stdout.splitlines())
    assert (
        first.stdout.splitlines() == logs_run.run.lines("flaky")[: len(first.stdout.splitlines())]
    )
    assert "json.decoder.JSONDecodeError" in first.stdout

    mapped = logs_run.logs("each", "--map-index", "1")
    assert ("info", "item 2", "etl.orders") in records(mapped.stdout.splitlines())


def test_a_tasks_traceback_starts_at_the_dag_file(logs_run: LogsRun) -> None:
    lines = logs_run.run.lines("broken")
    assert first_frame_after_traceback(lines) == f'  File "{DAG}", line 36, in broken'
    assert "ValueError: broken on purpose" in lines
    assert not any("/taskstate/" in line for line in lines if line.startswith('  File "'))

    retried = logs_run.logs("flaky", "--try", "1").stdout.splitlines()
    assert first_frame_after_traceback(retried) == f'  File "{DAG}", line 28, in flaky'


def test_a_try_over_its_execution_timeout_is_stopped_and_fails(logs_run: LogsRun) -> None:
    # Each try sleeps 30 s but is stopped after 1 s; the whole run takes a few seconds.
    assert logs_run.seconds < 25, str(logs_run.run)
    lines = logs_run.run.lines("sleepy")
    assert "[supervisor] timed out after 1 s; stopping the task process (SIGTERM)" in lines
    assert lines[-1] == "[supervisor] try 1 failed: timed out after 1 s; task instance is failed"
    assert first_frame_after_traceback(lines) == f'  File "{DAG}", line 44, in sleepy'

    retried = logs_run.run.lines("sleepy_retried")
    assert retried.count("[runner] retrying in 0s") == 1
    assert retried[-1] == (
        "[supervisor] try 2 failed: timed out after 1 s; task instance is failed"
    )
    second = logs_run.logs("sleepy_retried").stdout.splitlines()
    assert second[0] == "[supervisor] try 2 of sleepy_retried started"
    assert second[-1] == retried[-1]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (("--task-id", "nope"), f"run {RUN_ID!r} of DAG {DAG_ID!r} has no task 'nope'"),
        (
            ("--task-id", "each"),
            "task 'each' is mapped: choose an instance with --map-index (0..1)",
        ),
        (
            ("--task-id", "each", "--map-index", "5"),
            f"task 'each' has no map index 5 in run {RUN_ID!r} of DAG {DAG_ID!r} (0..1)",
        ),
        (
            ("--task-id", "talk", "--map-index", "0"),
            f"task 'talk' has no mapped instances in run {RUN_ID!r} of DAG {DAG_ID!r}",
        ),
        (
            ("--task-id", "flaky", "--try", "3"),
            f"flaky has had 2 tries in run {RUN_ID!r} of DAG {DAG_ID!r}; there is no try 3",
        ),
        (
            ("--task-id", "never"),
            f"never has not run in run {RUN_ID!r} of DAG {DAG_ID!r} (it is upstream_failed)",
        ),
    ],
)
def test_tasks_logs_says_why_there_is_no_log(
    logs_run: LogsRun, options: tuple[str, ...], message: str
) -> None:
    result = logs_run.cli.run("tasks", "logs", "--dag-id", DAG_ID, "--run-id", RUN_ID, *options)
    assert result.code == 2, str(result)
    assert result.stderr.startswith(f"error: {message}"), str(result)


def test_a_missing_file_of_a_try_that_ran_is_explained(logs_run: LogsRun) -> None:
    folder = task_instance_log_folder(logs_run.cli.home / "logs", DAG_ID, RUN_ID, "talk")
    moved = folder.with_name("talk-moved")
    folder.rename(moved)
    try:
        result = logs_run.logs("talk")
    finally:
        moved.rename(folder)
    assert result.code == 2
    assert "no log file of try 1 of talk" in result.stderr
    assert "the logs live on the machine that ran the task" in result.stderr


def test_the_log_level_setting_applies_to_tasks(make_cli: Callable[..., Any]) -> None:
    cli = make_cli("log_level", env={"TASKSTATE__LOGGING__LEVEL": "debug"})
    run = cli.dags_test(DAG, "--run-id", "r1", "--parallelism", "4")
    assert ("debug", "debug is below the default level", "root") in records(run.lines("talk"))


def test_a_dag_file_that_fails_to_import_shows_its_own_line_first(
    make_cli: Callable[..., Any],
) -> None:
    dag_file = DAGS / "import_error.py"
    run = make_cli("import_error").dags_test(dag_file)

    assert run.code == 2, str(run)
    lines = run.stderr.splitlines()
    assert lines[0].startswith(f"error: importing DAG file {dag_file} failed: KeyError: 'missing'")
    assert first_frame_after_traceback(lines) == f'  File "{dag_file}", line 10, in <module>'
    assert lines[-1] == "KeyError: 'missing'"
    assert "loader.py" not in run.stderr and "importlib" not in run.stderr
