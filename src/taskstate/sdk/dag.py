"""``DAG``: a set of tasks and the order between them, defined in a ``with DAG(...)`` block."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any

from taskstate.errors import DagDefinitionError
from taskstate.state.codec import validate_dag_id

if TYPE_CHECKING:
    from taskstate.sdk.task import Task

__all__ = ["DAG", "collect_dags", "current_dag"]

# The DAG whose ``with`` block is open, and the list a DAG-file loader collects DAGs into.
# Both are context variables so that concurrent loaders (threads, tests) never see each other's.
_current: ContextVar[DAG | None] = ContextVar("taskstate_current_dag", default=None)
_collector: ContextVar[list[DAG] | None] = ContextVar("taskstate_dag_collector", default=None)


class DAG:
    """A workflow: tasks defined inside its ``with`` block, run in dependency order."""

    def __init__(
        self,
        dag_id: str,
        *,
        schedule: Any = None,
        start_date: datetime | None = None,
        catchup: bool = False,
        tags: list[str] | tuple[str, ...] | None = None,
        doc_md: str | None = None,
        description: str | None = None,
        default_args: dict[str, Any] | None = None,
    ) -> None:
        self.dag_id = validate_dag_id(dag_id)
        if start_date is not None and (
            not isinstance(start_date, datetime) or start_date.utcoffset() is None
        ):
            raise DagDefinitionError(
                f"DAG {dag_id!r}: start_date must be a timezone-aware datetime, "
                f"e.g. datetime(2026, 1, 1, tzinfo=timezone.utc); got {start_date!r}",
                detail={"dag_id": dag_id},
            )
        self.schedule = schedule
        self.start_date = start_date
        self.catchup = catchup
        self.tags = list(tags or [])
        self.doc_md = doc_md
        self.description = description
        self.default_args = dict(default_args or {})
        self.tasks: dict[str, Task] = {}
        self._token: Any = None
        collector = _collector.get()
        if collector is not None:
            collector.append(self)

    def __repr__(self) -> str:
        return f"<DAG {self.dag_id} ({len(self.tasks)} tasks)>"

    def __enter__(self) -> DAG:
        self._token = _current.set(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        _current.reset(self._token)
        self._token = None

    def add_task(self, task: Task) -> None:
        if task.task_id in self.tasks:
            raise DagDefinitionError(
                f"DAG {self.dag_id!r} already has a task {task.task_id!r}",
                detail={"dag_id": self.dag_id, "task_id": task.task_id},
            )
        self.tasks[task.task_id] = task

    def unique_task_id(self, base: str) -> str:
        """``base``, or ``base__N`` when a task of that id exists (a function called twice)."""
        if base not in self.tasks:
            return base
        n = 1
        while f"{base}__{n}" in self.tasks:
            n += 1
        return f"{base}__{n}"

    def topological_order(self) -> list[Task]:
        """The tasks, each after all of its upstream tasks; a cycle is a DagDefinitionError."""
        indegree = {tid: len(t.upstream_task_ids) for tid, t in self.tasks.items()}
        ready = sorted(tid for tid, n in indegree.items() if n == 0)
        order: list[Task] = []
        while ready:
            tid = ready.pop(0)
            order.append(self.tasks[tid])
            for down in sorted(self.tasks[tid].downstream_task_ids):
                indegree[down] -= 1
                if indegree[down] == 0:
                    ready.append(down)
        if len(order) != len(self.tasks):
            cyclic = sorted(tid for tid, n in indegree.items() if n > 0)
            raise DagDefinitionError(
                f"DAG {self.dag_id!r} has a dependency cycle among {cyclic}",
                detail={"dag_id": self.dag_id, "tasks": cyclic},
            )
        return order


def current_dag() -> DAG | None:
    """The DAG whose ``with`` block is open, if any."""
    return _current.get()


@contextmanager
def collect_dags() -> Iterator[list[DAG]]:
    """Collect every DAG created inside the block (used while importing a DAG file)."""
    found: list[DAG] = []
    token = _collector.set(found)
    try:
        yield found
    finally:
        _collector.reset(token)
