"""What a try shows and logs: the task's ``logging`` records and output, in order, in the
terminal and in the try's log file, which the supervisor writes and the task process never
sees."""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.supervisor.test_process import DAG_ID, Harness, harness_for  # noqa: F401

from taskstate.supervisor import supervise
from taskstate.supervisor.logfile import try_log_path
from taskstate.supervisor.process import Outcome

# "2026-01-01T00:00:00.000000Z [info    ] message [logger] loc=file.py:12"
LOG_LINE = re.compile(
    r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z \[(?P<level>[a-z]+) *\] (?P<message>.*) "
    r"\[(?P<logger>[^\]]+)\] loc=(?P<loc>\S+:\d+)$"
)

LOGGING_TASK = """
import logging
log = logging.getLogger("orders.load")

@task
def t():
    print("first, printed")
    logging.debug("a debug record")
    logging.info("an info record from %s", "the root logger")
    log.warning("a warning from a named logger")
    print("then on stderr", file=sys.stderr)
    log.error("an error, last")
t()
"""


def records(lines: list[str]) -> list[tuple[str, str, str]]:
    """(level, message, logger) of each log line among ``lines``."""
    return [
        (m["level"], m["message"], m["logger"]) for m in map(LOG_LINE.match, lines) if m is not None
    ]


def supervise_logged(
    harness: Harness, ti_id: str, logs: Path, **fields: Any
) -> tuple[Outcome, list[str], Path]:
    """Supervise a try with a log folder; the outcome, the lines shown and the try's file."""
    out = io.StringIO()
    job = harness.job(ti_id, log_folder=str(logs), **fields)
    outcome = supervise(job, out=out)
    ti = harness.ti(ti_id)
    path = try_log_path(
        logs, DAG_ID, ti["run_id"], ti["task_id"], ti["map_index"], ti["try_number"]
    )
    return outcome, out.getvalue().splitlines(), path


def test_logging_and_output_are_shown_in_order_at_info_and_up(
    harness_for: Callable[[str], Harness],  # noqa: F811
    tmp_path: Path,
) -> None:
    harness = harness_for(LOGGING_TASK)
    outcome, lines, path = supervise_logged(harness, harness.register(), tmp_path / "logs")

    assert outcome is Outcome.SUCCESS, lines
    shown = [line for line in lines if not line.startswith("[supervisor]")]
    assert [LOG_LINE.sub(r"\g<level> \g<message>", line) for line in shown] == [
        "first, printed",
        "info an info record from the root logger",
        "warning a warning from a named logger",
        "then on stderr",
        "error an error, last",
        "info Done. Returned value was: None",  # the PythonOperator's, as Airflow's
    ]
    assert records(lines)[1] == ("warning", "a warning from a named logger", "orders.load")
    assert {m["loc"] for m in map(LOG_LINE.match, shown[:-1]) if m} == {
        "sup_dag.py:14",
        "sup_dag.py:15",
        "sup_dag.py:17",
    }
    assert path.read_text().splitlines() == lines


def test_the_log_level_setting_reaches_the_task(
    harness_for: Callable[[str], Harness],  # noqa: F811
    tmp_path: Path,
) -> None:
    harness = harness_for(LOGGING_TASK)
    logs = tmp_path / "logs"

    _, debug, _ = supervise_logged(harness, harness.register(), logs, log_level="DEBUG")
    _, error, _ = supervise_logged(harness, harness.register(), logs, log_level="ERROR")

    assert [r[0] for r in records(debug)] == ["debug", "info", "warning", "error", "info"]
    assert [r[0] for r in records(error)] == ["error"]
    assert "first, printed" in error and "then on stderr" in error


def test_the_failure_traceback_starts_at_the_users_frame(
    harness_for: Callable[[str], Harness],  # noqa: F811
    tmp_path: Path,
) -> None:
    harness = harness_for(
        """
        import json

        def helper(rows):
            return json.loads(rows)

        @task
        def t():
            helper("{not json")
        t()
        """
    )
    outcome, lines, path = supervise_logged(harness, harness.register(), tmp_path / "logs")

    assert outcome is Outcome.FAILED
    start = lines.index("Traceback (most recent call last):")
    assert records(lines[start - 1 : start]) == [("error", "Task failed with exception", "task")]
    frames = [line.strip() for line in lines[start + 1 :] if line.startswith('  File "')]
    dag_file = str(harness.dag_file)
    assert frames[:2] == [
        f'File "{dag_file}", line 14, in t',
        f'File "{dag_file}", line 10, in helper',
    ]
    assert all("/taskstate/" not in frame for frame in frames)
    assert any("json/" in frame for frame in frames[2:])  # the library the user called into
    assert lines[-2].startswith("json.decoder.JSONDecodeError: ")
    assert path.read_text().splitlines() == lines


def test_a_try_writes_its_own_file_and_a_job_without_a_folder_writes_none(
    harness_for: Callable[[str], Harness],  # noqa: F811
    tmp_path: Path,
) -> None:
    harness = harness_for(
        """
        @task(retries=1)
        def t(ti):
            print(f"in try {ti.try_number}")
            if ti.try_number == 1:
                raise RuntimeError("first try fails")
        t()
        """
    )
    ti_id = harness.register(retries=1)
    logs = tmp_path / "logs"

    first, first_lines, first_path = supervise_logged(harness, ti_id, logs)
    second, second_lines, second_path = supervise_logged(harness, ti_id, logs)

    assert (first, second) == (Outcome.FAILED, Outcome.SUCCESS)
    assert first_path.name == "attempt=1.log" and second_path.name == "attempt=2.log"
    assert first_path.read_text().splitlines() == first_lines
    assert second_path.read_text().splitlines() == second_lines
    assert "in try 1" in first_lines and "in try 2" in second_lines

    outcome, lines = harness.supervise(harness.register())  # a job without a log folder
    assert outcome is Outcome.FAILED and "in try 1" in lines
    assert sorted(p.name for p in logs.rglob("*.log")) == ["attempt=1.log", "attempt=2.log"]


def test_the_task_process_is_not_told_where_the_log_file_is(
    harness_for: Callable[[str], Harness],  # noqa: F811
    tmp_path: Path,
) -> None:
    harness = harness_for(
        """
        @task
        def t():
            targets = []
            for fd in os.listdir("/proc/self/fd"):
                try:
                    targets.append(os.readlink(f"/proc/self/fd/{fd}"))
                except OSError:
                    pass  # the descriptor of the listing itself, closed by now
            print("FDS", targets)
            print("ARGV", sys.argv)
            print("ENV", sorted(os.environ.items()))
        t()
        """
    )
    logs = tmp_path / "task-logs"
    outcome, lines, path = supervise_logged(harness, harness.register(), logs)

    assert outcome is Outcome.SUCCESS
    told = [line for line in lines if line.startswith(("FDS", "ARGV", "ENV"))]
    assert len(told) == 3
    assert all(str(logs) not in line and "attempt=" not in line for line in told)
    assert path.is_file()


def test_an_unwritable_log_folder_is_reported_and_the_try_still_runs(
    harness_for: Callable[[str], Harness],  # noqa: F811
    tmp_path: Path,
) -> None:
    harness = harness_for(
        """
        @task
        def t():
            print("ran")
        t()
        """
    )
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    outcome, lines, _ = supervise_logged(harness, harness.register(), blocker)

    assert outcome is Outcome.SUCCESS
    assert lines[0].startswith("[supervisor] cannot write the try's log file ")
    assert "ran" in lines


@pytest.mark.parametrize("level", ["INFO", "DEBUG"])
def test_logging_at_import_time_is_shown_too(
    harness_for: Callable[[str], Harness],  # noqa: F811
    tmp_path: Path,
    level: str,
) -> None:
    harness = harness_for(
        """
        import logging
        logging.getLogger("dagfile").info("imported")

        @task
        def t():
            pass
        t()
        """
    )
    _, lines, _ = supervise_logged(harness, harness.register(), tmp_path / "logs", log_level=level)
    assert ("info", "imported", "dagfile") in records(lines)
