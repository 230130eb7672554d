"""Exceptions a task raises to tell taskstate how its try ends, under Airflow's names.

They are signals from user code, not errors of taskstate's own (those live in
:mod:`taskstate.errors`), so they keep Airflow's hierarchy: a DAG file that catches
``AirflowException`` catches the same things here::

    Exception
    └── AirflowException          a task failure; the try fails and may be retried
        ├── AirflowSkipException  the try ends ``skipped``           (task exit code 103)
        ├── AirflowFailException  the try fails, with no retry       (task exit code 104)
        └── DownstreamTasksSkipped  the try succeeds, without a return value: a branch or
                                    short circuit skipped tasks below it
    BaseException
    └── AirflowTaskTimeout        the try ran over ``execution_timeout``

``AirflowTaskTimeout`` derives from ``BaseException`` (as in Airflow) so that a task's own
``except Exception`` cannot swallow its timeout.
"""

from __future__ import annotations

__all__ = [
    "AirflowException",
    "AirflowFailException",
    "AirflowSkipException",
    "AirflowTaskTimeout",
    "DownstreamTasksSkipped",
]


class AirflowException(Exception):
    """A task failed; its try fails and is retried if it has retries left."""


class AirflowSkipException(AirflowException):
    """Raised by a task to end its try as ``skipped``."""


class AirflowFailException(AirflowException):
    """Raised by a task to fail it at once, without using its remaining retries."""


class DownstreamTasksSkipped(AirflowException):
    """Raised by a branch or short circuit that skips ``tasks``: its try ends successful but
    stores no return value, as in Airflow (the skip decision travels as an XCom, see
    :mod:`taskstate.sdk.operators.branch`)."""

    def __init__(self, tasks: list[str]) -> None:
        super().__init__(f"skipping downstream tasks {tasks}")
        self.tasks = tasks


class AirflowTaskTimeout(BaseException):
    """The try ran longer than its ``execution_timeout``."""
