"""The task process's log lines: time, level, message, logger, location; tracebacks after."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator

import pytest

from taskstate.runtime.task_logging import TASK_LOGGER, TaskLogFormatter, configure_task_logging


@pytest.fixture
def restored_logging() -> Iterator[None]:
    """Put back the root logger and the task logger as they were."""
    root = logging.getLogger()
    task = logging.getLogger(TASK_LOGGER)
    handlers, level, task_level = list(root.handlers), root.level, task.level
    yield
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    task.setLevel(task_level)
    logging.captureWarnings(False)


def test_a_record_is_one_line() -> None:
    record = logging.LogRecord(
        "orders.load", logging.WARNING, "/dags/etl.py", 12, "%d rows", (3,), None
    )
    record.created = 1767225600.25  # 2026-01-01T00:00:00.25Z

    line = TaskLogFormatter().format(record)

    assert line == "2026-01-01T00:00:00.250000Z [warning ] 3 rows [orders.load] loc=etl.py:12"


def test_configured_logging_shows_the_level_and_up_and_the_task_logger_always(
    restored_logging: None,
) -> None:
    stream = io.StringIO()
    configure_task_logging("ERROR", stream)

    logging.getLogger("user").warning("hidden")
    logging.getLogger("user").error("shown")
    logging.getLogger(TASK_LOGGER).info("the task's own line")

    shown = [re.sub(r"^\S+ ", "", line) for line in stream.getvalue().splitlines()]
    assert [line.split(" loc=")[0] for line in shown] == [
        "[error   ] shown [user]",
        "[info    ] the task's own line [task]",
    ]


def test_a_record_with_an_exception_is_followed_by_its_traceback(restored_logging: None) -> None:
    stream = io.StringIO()
    configure_task_logging("INFO", stream)

    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("user").exception("it failed")

    lines = stream.getvalue().splitlines()
    assert " [error   ] it failed [user] loc=" in lines[0]
    assert lines[1] == "Traceback (most recent call last):"
    assert lines[-1] == "ValueError: boom"
