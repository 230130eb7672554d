"""``TaskGroup``: a named set of tasks inside a DAG, with ids ``group.task``.

Tasks made inside ``with TaskGroup("g"):`` (or a ``@task_group`` function) belong to it; their
ids are prefixed with the group id (unless ``prefix_group_id=False``), nested groups' ids too.
``default_args`` of a group apply to its tasks over the DAG's. A dependency on a whole group
attaches to its tasks with no upstream inside it (its roots) or no downstream inside it (its
leaves; a teardown at the end is passed over for the work task before it, as Airflow does).

A *mapped* task group (``@task_group`` function's ``.expand(...)``) maps every task inside it
with the same map indices: see :class:`MappedTaskGroup`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextvars import ContextVar
from types import TracebackType
from typing import TYPE_CHECKING, Any

from taskstate.errors import DagDefinitionError
from taskstate.sdk.dag import current_dag
from taskstate.sdk.dependencies import DependencyMixin
from taskstate.sdk.expand import ExpandInput

if TYPE_CHECKING:
    from taskstate.sdk.dag import DAG
    from taskstate.sdk.node import AbstractOperator

__all__ = ["MappedTaskGroup", "TaskGroup", "current_task_group"]

_GROUP_ID = re.compile(r"[A-Za-z0-9_\-]{1,200}")

# The task groups whose ``with`` blocks are open, innermost last.
_open: ContextVar[tuple[TaskGroup, ...]] = ContextVar("taskstate_task_groups", default=())


def current_task_group(dag: DAG) -> TaskGroup:
    """The innermost open task group of ``dag``, or its root group."""
    for group in reversed(_open.get()):
        if group.dag is dag:
            return group
    return dag.task_group


class TaskGroup(DependencyMixin):
    """A group of tasks (see the module docstring); ``group_id=None`` is a DAG's root group."""

    def __init__(
        self,
        group_id: str | None,
        prefix_group_id: bool = True,
        parent_group: TaskGroup | None = None,
        dag: DAG | None = None,
        default_args: dict[str, Any] | None = None,
        tooltip: str = "",
        doc_md: str | None = None,
        ui_color: str = "CornflowerBlue",
        ui_fgcolor: str = "#000",
        add_suffix_on_collision: bool = False,
        group_display_name: str = "",
    ) -> None:
        self._group_id = group_id
        self.prefix_group_id = prefix_group_id
        self.tooltip = tooltip
        self.doc_md = doc_md
        self.ui_color = ui_color
        self.ui_fgcolor = ui_fgcolor
        self.group_display_name = group_display_name
        self.children: dict[str, AbstractOperator | TaskGroup] = {}
        # Tasks made upstream of the group: an empty group passes them on downstream.
        self.upstream_task_ids: set[str] = set()
        self._token: Any = None
        if default_args is not None and not isinstance(default_args, dict):
            raise DagDefinitionError(f"TaskGroup {group_id!r}: default_args must be a dict")
        self.default_args: dict[str, Any] = dict(default_args or {})
        if group_id is None:  # a DAG's root group, made by the DAG itself
            self.parent_group: TaskGroup | None = None
            self.dag = dag
            return
        if not isinstance(group_id, str) or not _GROUP_ID.fullmatch(group_id):
            raise DagDefinitionError(
                f"group_id must be 1-200 letters, digits, '_' or '-', not {group_id!r}",
                detail={"group_id": repr(group_id)},
            )
        dag = dag or (parent_group.dag if parent_group is not None else None) or current_dag()
        if dag is None:
            raise DagDefinitionError(f"TaskGroup {group_id!r} was made outside a DAG")
        self.dag = dag
        parent = parent_group or current_task_group(dag)
        self.parent_group = parent
        self.default_args = {**parent.default_args, **self.default_args}
        if self.group_id in dag.used_ids:
            if not add_suffix_on_collision:
                raise DagDefinitionError(
                    f"DAG {dag.dag_id!r} already has a task or task group {self.group_id!r}",
                    detail={"dag_id": dag.dag_id, "group_id": self.group_id},
                )
            self._group_id = _next_free(group_id, parent, dag.used_ids)
        dag.add_group(self)
        parent.children[self.group_id or ""] = self

    def __repr__(self) -> str:
        return f"<TaskGroup {self.group_id!r}>" if self.group_id else "<TaskGroup (root)>"

    @property
    def group_id(self) -> str | None:
        """The full id: the parent's id prefixed, when the parent prefixes its children."""
        parent = self.parent_group
        if self._group_id is not None and parent is not None:
            return parent.child_id(self._group_id)
        return self._group_id

    @property
    def node_id(self) -> str | None:
        return self.group_id

    @property
    def label(self) -> str | None:
        return self.group_display_name or self._group_id

    @property
    def is_root(self) -> bool:
        return self._group_id is None

    def child_id(self, label: str) -> str:
        """``label`` prefixed with this group's id (if the group prefixes its children)."""
        group_id = self.group_id
        if self.prefix_group_id and group_id:
            return f"{group_id}.{label}"
        return label

    def add(self, task: AbstractOperator) -> None:
        self.children[task.task_id] = task

    def mapped_ancestor(self) -> MappedTaskGroup | None:
        """This group, or the nearest group around it, if mapped."""
        group: TaskGroup | None = self
        while group is not None:
            if isinstance(group, MappedTaskGroup):
                return group
            group = group.parent_group
        return None

    def __enter__(self) -> TaskGroup:
        self._token = _open.set((*_open.get(), self))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        _open.reset(self._token)
        self._token = None

    def __iter__(self) -> Iterator[AbstractOperator]:
        """Every task of the group, nested groups' included."""
        for child in self.children.values():
            if isinstance(child, TaskGroup):
                yield from child
            else:
                yield child

    def __getitem__(self, label: str) -> AbstractOperator | TaskGroup:
        try:
            return self.children[self.child_id(label)]
        except KeyError:
            raise DagDefinitionError(f"{self!r} has no task or group {label!r}") from None

    def has_task(self, task: AbstractOperator) -> bool:
        return any(t is task for t in self)

    # -- dependencies -------------------------------------------------------------------------

    @property
    def roots(self) -> list[AbstractOperator]:
        """The group's tasks with no upstream task inside the group."""
        tasks = list(self)
        ids = {t.task_id for t in tasks}
        return [t for t in tasks if t.upstream_task_ids.isdisjoint(ids)]

    @property
    def leaves(self) -> list[AbstractOperator]:
        """The group's tasks with no downstream task inside the group; for a teardown there,
        the work task before it. An empty group passes on the tasks upstream of it."""
        tasks = list(self)
        if not tasks:
            if self.dag is None:
                return []
            return [self.dag.tasks[t] for t in sorted(self.upstream_task_ids)]
        by_id = {t.task_id: t for t in tasks}
        found: list[AbstractOperator] = []
        for task in tasks:
            if not task.downstream_task_ids.isdisjoint(by_id):
                continue
            if task.is_teardown:
                found.extend(_work_before_teardown(task, by_id))
            else:
                found.append(task)
        unique: dict[str, AbstractOperator] = {t.task_id: t for t in found}
        return list(unique.values())

    def _note_upstream(self, other: DependencyMixin) -> None:
        self.upstream_task_ids.update(t.task_id for t in other.leaves)

    @property
    def upstream_list(self) -> list[AbstractOperator]:
        return [t for root in self.roots for t in root.upstream_list]


def _work_before_teardown(
    teardown: AbstractOperator, in_group: dict[str, AbstractOperator]
) -> Iterator[AbstractOperator]:
    """The tasks upstream of a teardown at the end of a group that end its work: not
    teardowns (those are passed over), not its setups, and with no other work task after them
    in the group."""
    for up_id in sorted(teardown.upstream_task_ids):
        up = in_group.get(up_id)
        if up is None:
            continue
        if up.is_teardown:
            yield from _work_before_teardown(up, in_group)
        elif teardown.is_teardown and up.is_setup:
            continue
        elif not any(
            d != teardown.task_id and d in in_group and not in_group[d].is_teardown
            for d in up.downstream_task_ids
        ):
            yield up


def _next_free(group_id: str, parent: TaskGroup, used: set[str]) -> str:
    """``group_id__N`` with the next N free, as a ``@task_group`` function called again gets."""
    base = re.split(r"__\d+$", group_id)[0]
    pattern = re.compile(rf"^{re.escape(parent.child_id(base))}__(\d+)$")
    numbers = [int(m.group(1)) for u in used if (m := pattern.match(u))]
    return f"{base}__{max(numbers, default=0) + 1}"


class MappedTaskGroup(TaskGroup):
    """A task group mapped over ``expand_input``: every task inside it has one instance per
    value, with the same map indices (the group's); see :mod:`taskstate.sdk.expand`.

    The group's function receives a :class:`~taskstate.sdk.expand.MappedArgument` for each
    mapped argument; a task given it receives its instance's value. A task given the output
    of another task of the group receives that task's output for the same map index; a task
    outside the group receives the list of every instance's output.
    """

    def __init__(self, *args: Any, expand_input: ExpandInput, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.expand_input = expand_input
        if self.parent_group is not None and self.parent_group.mapped_ancestor() is not None:
            from taskstate.sdk.options import unsupported

            raise unsupported(
                "a mapped task group inside a mapped task group", f"task group {self.group_id!r}"
            )

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            # The tasks whose outputs the group maps over run before it.
            for ref in self.expand_input.references():
                self.set_upstream(ref.operator)
        super().__exit__(exc_type, exc, tb)
