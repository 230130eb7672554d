"""The runner's view of a run's task instances: their ids and states, by task and map index."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["Instances", "TiKey", "label"]

# A task instance: its task id and map index (-1 unless the task is mapped).
TiKey = tuple[str, int]


def label(task_id: str, map_index: int) -> str:
    """How a task instance's lines are prefixed: ``task`` or ``task[map_index]``."""
    return task_id if map_index < 0 else f"{task_id}[{map_index}]"


class Instances:
    """Ids and last known states of the instances of every task; a task mapped over an output
    has one placeholder (map index -1) until :meth:`replace` puts its instances in its place."""

    def __init__(self, task_instances: Iterable[dict[str, Any]]) -> None:
        self.ids: dict[TiKey, str] = {}
        self.states: dict[TiKey, str] = {}
        self._indices: dict[str, list[int]] = {}
        self._add(task_instances)

    def _add(self, task_instances: Iterable[dict[str, Any]]) -> None:
        for ti in task_instances:
            key = (ti["task_id"], ti["map_index"])
            self.ids[key] = ti["id"]
            self.states[key] = ti["state"]
            self._indices.setdefault(ti["task_id"], []).append(ti["map_index"])

    def indices(self, task_id: str) -> list[int]:
        return list(self._indices[task_id])

    def states_of(self, task_ids: Iterable[str]) -> list[str]:
        """The state of every instance of the tasks ``task_ids``."""
        return [self.states[(t, i)] for t in task_ids for i in self._indices[t]]

    def replace(self, task_id: str, task_instances: list[dict[str, Any]]) -> None:
        """Forget the instances of ``task_id``; it now has ``task_instances``."""
        for index in self._indices.pop(task_id):
            del self.ids[(task_id, index)]
            del self.states[(task_id, index)]
        self._add(task_instances)
