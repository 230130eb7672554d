"""Per-try log files: ``{logs}/dag_id=D/run_id=R/task_id=T[/map_index=N]/attempt=K.log``.

The layout is Airflow's default one. Each id is percent-encoded (everything but letters,
digits and ``_.-~``), so a ``/`` in an id cannot add a folder, and every folder name starts with
``name=`` and so is never ``.`` or ``..``: no id can lead a path out of the logs folder.

The supervisor of a try writes its file: it learns the try number from the API server when the
try starts, and every line of the try (the task's output, its own lines) passes through it. The
runner appends its own lines about the try (a retry, a try its supervisor left unreported)
after the supervisor has ended. The task process is never told where the file is, nor given a
descriptor of it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TextIO
from urllib.parse import quote

__all__ = [
    "append_lines",
    "logged_tries",
    "open_try_log",
    "task_instance_log_folder",
    "try_log_path",
]

_ATTEMPT = re.compile(r"attempt=([1-9][0-9]*)\.log")


def _segment(name: str, value: str) -> str:
    return f"{name}={quote(value, safe='')}"


def task_instance_log_folder(
    logs: Path, dag_id: str, run_id: str, task_id: str, map_index: int = -1
) -> Path:
    """The folder of a task instance's log files under ``logs`` (``Settings.logs_folder``)."""
    folder = logs / _segment("dag_id", dag_id) / _segment("run_id", run_id)
    folder /= _segment("task_id", task_id)
    return folder / f"map_index={map_index}" if map_index >= 0 else folder


def try_log_path(
    logs: Path, dag_id: str, run_id: str, task_id: str, map_index: int, try_number: int
) -> Path:
    """The log file of try ``try_number`` of a task instance."""
    folder = task_instance_log_folder(logs, dag_id, run_id, task_id, map_index)
    return folder / f"attempt={try_number}.log"


def logged_tries(folder: Path) -> list[int]:
    """The try numbers that have a log file in a task instance's ``folder``, in order."""
    if not folder.is_dir():
        return []
    found = (_ATTEMPT.fullmatch(entry.name) for entry in folder.iterdir() if entry.is_file())
    return sorted(int(match[1]) for match in found if match)


def open_try_log(path: Path) -> TextIO:
    """Create (or empty) the log file at ``path`` for a try that starts; OSError if it cannot.

    A file left by an earlier run of the same ids (a run deleted and made again) is replaced.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.open("w", encoding="utf-8")


def append_lines(path: Path, lines: list[str]) -> None:
    """Add ``lines`` to the log file at ``path``, creating it if need be; OSError if it cannot."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as file:
        file.writelines(line + "\n" for line in lines)
