"""Logging in the task process: every logger's records, as one line each, on standard error.

The supervisor reads the task process's output (standard output and standard error, one pipe)
line by line: it shows each line in the terminal and writes it to the try's log file. So a
task's ``print()`` output and its ``logging`` records reach both, in the order they were made.

A record is shown as ``2026-01-01T00:00:00.000000Z [info    ] message [logger] loc=file.py:12``
(UTC time, level, message, logger name, where it was logged), close to Airflow's task log lines;
a record with an exception is followed by its traceback, the user's frames first.
"""

from __future__ import annotations

import logging
import sys
from datetime import UTC, datetime
from typing import TextIO

from taskstate.sdk.tracebacks import format_user_exception

__all__ = ["TASK_LOGGER", "TaskLogFormatter", "configure_task_logging"]

TASK_LOGGER = "task"
"""The logger of taskstate's own lines about the task (its failure), shown at any level."""


class TaskLogFormatter(logging.Formatter):
    """One line per record: time, level, message, logger name, location; then a traceback."""

    def format(self, record: logging.LogRecord) -> str:
        when = datetime.fromtimestamp(record.created, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        line = (
            f"{when} [{record.levelname.lower():<8}] {record.getMessage()} "
            f"[{record.name}] loc={record.filename}:{record.lineno}"
        )
        if record.exc_info and record.exc_info[1] is not None:
            line += "\n" + format_user_exception(record.exc_info[1]).rstrip("\n")
        if record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return line


def configure_task_logging(level: str, stream: TextIO | None = None) -> None:
    """Send every record of ``level`` and above to ``stream`` (standard error), formatted.

    ``level`` (``[logging] level``) is the root logger's; a logger with a level of its own
    keeps it, as the user configured. Warnings are logged too (logger ``py.warnings``).
    """
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(TaskLogFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # A failure must be shown whatever the level; records propagate to the root's handler
    # without passing the root's level again.
    logging.getLogger(TASK_LOGGER).setLevel(logging.INFO)
    logging.captureWarnings(True)
