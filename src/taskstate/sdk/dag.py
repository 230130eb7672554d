"""``DAG``: a set of tasks and the order between them, defined in a ``with DAG(...)`` block.

The DAG takes Airflow 3's arguments. Those taskstate builds are kept as attributes for the
runner and the task process (dates, ``default_args``, ``params``, the template settings); those
with no meaning on one machine are accepted without effect, and those that would change what
runs but are not built are refused (see :mod:`taskstate.sdk.options`). A run is always started
by hand (``taskstate dags test``), so ``schedule`` is checked and recorded, never acted on.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, NoReturn

from taskstate.errors import DagDefinitionError
from taskstate.sdk.asset import BaseAsset
from taskstate.sdk.options import (
    NO_EFFECT_DAG_ARGS,
    REFUSED_DAG_ARGS,
    aware_datetime,
    check_extra_options,
    unsupported,
)
from taskstate.state.codec import validate_dag_id

if TYPE_CHECKING:
    from taskstate.sdk.node import AbstractOperator
    from taskstate.sdk.taskgroup import TaskGroup

__all__ = ["DAG", "collect_dags", "current_dag"]

# The DAG whose ``with`` block is open, and the list a DAG-file loader collects DAGs into.
# Both are context variables so that concurrent loaders (threads, tests) never see each other's.
_current: ContextVar[DAG | None] = ContextVar("taskstate_current_dag", default=None)
_collector: ContextVar[list[DAG] | None] = ContextVar("taskstate_dag_collector", default=None)

_PRESETS = frozenset(
    {"@once", "@continuous", "@hourly", "@daily", "@weekly", "@monthly", "@quarterly"}
    | {"@yearly", "@annually"}
)
_BUILT_ARGS = (
    "dag_id",
    "description",
    "schedule",
    "start_date",
    "end_date",
    "template_searchpath",
    "template_undefined",
    "user_defined_macros",
    "user_defined_filters",
    "default_args",
    "params",
    "doc_md",
    "tags",
    "render_template_as_native_obj",
    "jinja_environment_kwargs",
    "dag_display_name",
)


class DAG:
    """A workflow: tasks defined inside its ``with`` block, run in dependency order.

    Attributes the runner and task process read: ``dag_id``, ``tasks`` (by task id, in the
    order they were added), ``task_group`` (the root group), ``default_args``, ``params``
    (as given), ``start_date``/``end_date`` (timezone-aware; a naive one is UTC),
    ``template_searchpath`` (a list), ``template_undefined`` (None: Jinja's StrictUndefined),
    ``user_defined_macros``, ``user_defined_filters`` (dicts), ``render_template_as_native_obj``,
    ``jinja_environment_kwargs``, ``fileloc`` (the DAG file, set by the loader) and ``folder``.
    """

    def __init__(
        self,
        dag_id: str,
        *,
        description: str | None = None,
        schedule: Any = None,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
        template_searchpath: str | list[str] | tuple[str, ...] | None = None,
        template_undefined: Any = None,
        user_defined_macros: dict[str, Any] | None = None,
        user_defined_filters: dict[str, Any] | None = None,
        default_args: dict[str, Any] | None = None,
        params: Any = None,
        doc_md: str | None = None,
        tags: list[str] | tuple[str, ...] | set[str] | None = None,
        render_template_as_native_obj: bool = False,
        jinja_environment_kwargs: dict[str, Any] | None = None,
        dag_display_name: str | None = None,
        **kwargs: Any,
    ) -> None:
        self.dag_id = validate_dag_id(dag_id)
        where = f"DAG {dag_id!r}"
        extra = check_extra_options(
            kwargs,
            where=where,
            no_effect=NO_EFFECT_DAG_ARGS,
            refused=REFUSED_DAG_ARGS,
            known=_BUILT_ARGS,
        )
        for name, value in extra.items():
            setattr(self, name, value)
        self.description = description
        self.schedule = _check_schedule(schedule, where)
        self.start_date = aware_datetime(start_date, "start_date", where=where)
        self.end_date = aware_datetime(end_date, "end_date", where=where)
        if isinstance(template_searchpath, str):
            template_searchpath = [template_searchpath]
        self.template_searchpath: list[str] = list(template_searchpath or [])
        self.template_undefined = template_undefined
        self.user_defined_macros: dict[str, Any] = dict(user_defined_macros or {})
        self.user_defined_filters: dict[str, Any] = dict(user_defined_filters or {})
        if default_args is not None and not isinstance(default_args, dict):
            raise DagDefinitionError(f"{where}: default_args must be a dict")
        self.default_args: dict[str, Any] = dict(default_args or {})
        self.params: dict[str, Any] = dict(params or {})
        self.doc_md = doc_md
        self.tags = list(tags or [])
        self.render_template_as_native_obj = bool(render_template_as_native_obj)
        self.jinja_environment_kwargs = jinja_environment_kwargs
        self.dag_display_name = dag_display_name or self.dag_id
        self.fileloc = ""
        self.tasks: dict[str, AbstractOperator] = {}
        # Task ids and task group ids share one namespace.
        self.used_ids: set[str] = set()
        self.task_group_dict: dict[str, TaskGroup] = {}
        from taskstate.sdk.taskgroup import TaskGroup

        self.task_group = TaskGroup(None, dag=self)
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

    @property
    def folder(self) -> str:
        """The folder of the DAG file (Jinja looks for template files there first)."""
        return str(Path(self.fileloc).parent) if self.fileloc else str(Path.cwd())

    @property
    def task_dict(self) -> dict[str, AbstractOperator]:
        return self.tasks

    @property
    def task_ids(self) -> list[str]:
        return list(self.tasks)

    @property
    def roots(self) -> list[AbstractOperator]:
        return [t for t in self.tasks.values() if not t.upstream_task_ids]

    @property
    def leaves(self) -> list[AbstractOperator]:
        return [t for t in self.tasks.values() if not t.downstream_task_ids]

    def get_task(self, task_id: str) -> AbstractOperator:
        try:
            return self.tasks[task_id]
        except KeyError:
            raise DagDefinitionError(
                f"DAG {self.dag_id!r} has no task {task_id!r}",
                detail={"dag_id": self.dag_id, "task_id": task_id},
            ) from None

    def has_task(self, task_id: str) -> bool:
        return task_id in self.tasks

    def add_task(self, task: AbstractOperator) -> None:
        if task.task_id in self.used_ids:
            raise DagDefinitionError(
                f"DAG {self.dag_id!r} already has a task {task.task_id!r}",
                detail={"dag_id": self.dag_id, "task_id": task.task_id},
            )
        self.tasks[task.task_id] = task
        self.used_ids.add(task.task_id)

    def add_group(self, group: TaskGroup) -> None:
        group_id = group.group_id
        if group_id is None:
            return
        if group_id in self.used_ids:
            raise DagDefinitionError(
                f"DAG {self.dag_id!r} already has a task or task group {group_id!r}",
                detail={"dag_id": self.dag_id, "group_id": group_id},
            )
        self.used_ids.add(group_id)
        self.task_group_dict[group_id] = group

    def unique_task_id(self, task_id: str, group: TaskGroup | None = None) -> str:
        """``task_id``, or ``task_id__N`` when a task of that id exists (a function called
        again): N one more than the highest taken, as Airflow numbers them."""
        full = group.child_id(task_id) if group is not None else task_id
        if full not in self.used_ids:
            return task_id
        prefix = re.escape(re.split(r"__\d+$", full)[0])
        taken = [int(m.group(1)) for t in self.tasks if (m := re.match(rf"^{prefix}__(\d+)$", t))]
        core = re.split(r"__\d+$", task_id)[0]
        return f"{core}__{max(taken, default=0) + 1}"

    def topological_order(self) -> list[AbstractOperator]:
        """The tasks, each after all of its upstream tasks; a cycle is a DagDefinitionError."""
        indegree = {tid: len(t.upstream_task_ids) for tid, t in self.tasks.items()}
        ready = sorted(tid for tid, n in indegree.items() if n == 0)
        order: list[AbstractOperator] = []
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

    def validate(self) -> None:
        """Refuse what Airflow refuses once a DAG is built: a dependency cycle, and a setup
        task followed by a work task whose trigger rule is not ``all_success``."""
        self.topological_order()
        for task in self.tasks.values():
            if not task.is_setup:
                continue
            for down in task.downstream_list:
                if not down.is_teardown and down.trigger_rule != "all_success":
                    raise DagDefinitionError(
                        f"DAG {self.dag_id!r}: setup task {task.task_id!r} is followed by "
                        f"{down.task_id!r} with trigger rule {str(down.trigger_rule)!r}; the "
                        "tasks after a setup task must have trigger rule all_success",
                        detail={"dag_id": self.dag_id, "task_id": down.task_id},
                    )

    def test(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise unsupported("DAG.test()", f"DAG {self.dag_id!r}", "run `taskstate dags test FILE`")


def _check_schedule(schedule: Any, where: str) -> Any:
    """``schedule`` if it is one Airflow accepts that taskstate can record; runs are always
    started by hand, so none is acted on."""
    if schedule is None or isinstance(schedule, timedelta | BaseAsset):
        return schedule
    if isinstance(schedule, str):
        if schedule.startswith("@"):
            if schedule not in _PRESETS:
                raise DagDefinitionError(
                    f"{where}: unknown schedule preset {schedule!r}; known: {sorted(_PRESETS)}"
                )
        elif len(schedule.split()) not in (5, 6):
            raise DagDefinitionError(
                f"{where}: schedule {schedule!r} is neither a preset nor a cron expression "
                "of 5 (or 6) fields"
            )
        return schedule
    if isinstance(schedule, list | tuple):
        for item in schedule:
            if not isinstance(item, BaseAsset):
                raise DagDefinitionError(
                    f"{where}: a schedule list holds assets, not {type(item).__name__}"
                )
        return list(schedule)
    if type(schedule).__name__ == "relativedelta":
        return schedule
    raise unsupported(
        f"schedule={type(schedule).__name__}(...) (timetables)",
        where,
        "use None, a cron string or preset, a timedelta, or assets",
    )


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
