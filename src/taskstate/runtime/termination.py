"""How a task process ends when it is told to stop.

The supervisor stops a try that runs over its ``execution_timeout`` with SIGTERM, and with
SIGKILL if the process is still there after a grace period. On SIGTERM the task process raises
:class:`TaskTerminated` wherever the task is: its ``finally`` blocks and context managers run,
and its log shows the traceback of where it was stopped.
"""

from __future__ import annotations

import signal
from types import FrameType

__all__ = ["TaskTerminated", "raise_on_sigterm"]


class TaskTerminated(BaseException):
    """The task process received SIGTERM.

    A ``BaseException``, as Airflow's ``AirflowTaskTerminated`` is, so that a task's
    ``except Exception`` does not swallow it and carry on.
    """


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise TaskTerminated(f"the task process received {signal.Signals(signum).name}")


def raise_on_sigterm() -> None:
    """From now on, SIGTERM raises :class:`TaskTerminated` in the main thread."""
    signal.signal(signal.SIGTERM, _terminate)
