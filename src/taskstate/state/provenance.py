"""Who wrote a key last: the ``written_by`` that backends keep beside every value.

A backend stores it as opaque JSON text, one of::

    {"dag_id": "d", "run_id": "r", "task_id": "t", "map_index": -1, "try_number": 2}
    "api"

the first for a write by a task instance's try (through the execution API, named by its
token), the second for a write through the public API. The text is built once per token, not
per write, so recording it costs the hot path nothing but its bytes.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from taskstate.state.types import TaskScope

__all__ = ["API_WRITER", "TaskWriter", "decode_writer", "describe_writer", "task_writer"]

API_WRITER: Final = '"api"'
"""``written_by`` of a write through the public API."""


class TaskWriter(msgspec.Struct, frozen=True):
    """A task instance's try, as ``written_by`` names it."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    try_number: int


_encode = msgspec.json.encode


def task_writer(scope: TaskScope, try_number: int) -> str:
    """The ``written_by`` text of a write by try ``try_number`` of the task instance ``scope``."""
    writer = TaskWriter(scope.dag_id, scope.run_id, scope.task_id, scope.map_index, try_number)
    return _encode(writer).decode()


def decode_writer(text: str | None) -> dict[str, Any] | str | None:
    """``written_by`` as JSON data (an object, or ``"api"``); None if not recorded or unreadable.

    A backend of an older version, or of a user, may have left nothing or something else there;
    provenance is information, so an unreadable one reads as unknown rather than failing a list.
    """
    if text is None:
        return None
    try:
        decoded = msgspec.json.decode(text)
    except msgspec.DecodeError:
        return None
    return decoded if isinstance(decoded, dict | str) else None


def describe_writer(writer: dict[str, Any] | str | None) -> str:
    """A writer for people: ``dag/run/task[2] try 1``, ``api``, or empty when unknown."""
    if writer is None:
        return ""
    if isinstance(writer, str):
        return writer
    index = writer.get("map_index", -1)
    suffix = "" if not isinstance(index, int) or index < 0 else f"[{index}]"
    return (
        f"{writer.get('dag_id')}/{writer.get('run_id')}/{writer.get('task_id')}{suffix} "
        f"try {writer.get('try_number')}"
    )
