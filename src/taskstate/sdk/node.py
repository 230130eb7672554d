"""``AbstractOperator``: a task of a DAG, as the runner and the task process see it.

Two kinds of task share it: a :class:`~taskstate.sdk.operator.BaseOperator` (every operator
class, TaskFlow tasks included) and a :class:`~taskstate.sdk.mapped.MappedOperator` (a classic
operator's ``partial(...).expand(...)``, whose instances are built only when they run). It holds
what the runner needs before anything runs: the task id, its DAG and task group, the order
between tasks, the options that decide when and how often a task instance runs, setup/teardown
roles, and the mapping (how many instances, over what). The task process turns it into the
operator one instance runs with :meth:`AbstractOperator.prepare`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any, ClassVar

from taskstate.errors import DagDefinitionError
from taskstate.sdk import setup_teardown
from taskstate.sdk.asset import Asset, AssetAlias
from taskstate.sdk.context import task_is_running
from taskstate.sdk.dependencies import DependencyMixin, Relatives, as_nodes
from taskstate.sdk.expand import ExpandInput
from taskstate.sdk.outputs import RETURN_VALUE, Outputs, XComArg, find_refs, has_references
from taskstate.sdk.trigger_rule import TriggerRule
from taskstate.state.codec import validate_task_id

if TYPE_CHECKING:
    from taskstate.sdk.dag import DAG
    from taskstate.sdk.taskgroup import MappedTaskGroup, TaskGroup

__all__ = ["AbstractOperator"]

# Attributes of the node itself, never user arguments holding references.
_NODE_ATTRIBUTES = frozenset(
    {
        "task_id",
        "_dag",
        "task_group",
        "upstream_task_ids",
        "downstream_task_ids",
        "expand_input",
        "mapped_task_group",
        "params",
        "is_setup",
        "is_teardown",
        "trigger_rule",
    }
)


class AbstractOperator(DependencyMixin):
    """A task of a DAG: what the runner schedules and the task process runs.

    Attributes the runner and runtime rely on: ``task_id`` (with its task group's prefix),
    ``dag``, ``retries``, ``retry_delay``, ``retry_exponential_backoff`` (a multiplier, 0 for a
    constant delay), ``max_retry_delay``, ``execution_timeout``, ``trigger_rule``, ``inlets`` and
    ``outlets`` (assets; aliases in ``inlet_aliases``/``outlet_aliases``), ``is_setup``,
    ``is_teardown``, ``setup_task_ids``, ``on_failure_fail_dagrun``, ``upstream_task_ids``,
    ``downstream_task_ids``, ``multiple_outputs``, ``do_xcom_push``, ``template_fields``,
    ``template_ext``, and the mapping (``is_mapped``, ``map_indices``, ``map_count``, ...).
    """

    # Class attributes a subclass sets (an instance may too, as PythonOperator's
    # ``templates_exts`` does).
    template_fields: Sequence[str] = ()
    template_ext: Sequence[str] = ()
    template_fields_renderers: dict[str, str] = {}
    ui_color: str = "#fff"
    ui_fgcolor: str = "#000"
    # Whether passing the task itself as an argument passes its output (TaskFlow tasks).
    passes_output: ClassVar[bool] = False

    task_id: str
    task_group: TaskGroup | None
    upstream_task_ids: set[str]
    downstream_task_ids: set[str]
    expand_input: ExpandInput | None
    mapped_task_group: MappedTaskGroup | None
    retries: int
    retry_delay: timedelta
    retry_exponential_backoff: float
    max_retry_delay: timedelta | None
    execution_timeout: timedelta | None
    trigger_rule: TriggerRule
    inlets: tuple[Asset, ...]
    outlets: tuple[Asset, ...]
    inlet_aliases: tuple[AssetAlias, ...]
    outlet_aliases: tuple[AssetAlias, ...]
    multiple_outputs: bool
    do_xcom_push: bool
    on_failure_fail_dagrun: bool
    is_setup: bool
    is_teardown: bool
    params: dict[str, Any]
    task_display_name: str | None
    doc: str | None
    doc_md: str | None
    doc_json: str | None
    doc_yaml: str | None
    doc_rst: str | None
    render_template_as_native_obj: bool | None

    def _init_node(
        self,
        *,
        task_id: str,
        dag: DAG | None,
        task_group: TaskGroup | None,
        options: Mapping[str, Any],
        params: Mapping[str, Any],
    ) -> None:
        """Set the node's attributes (``options`` from :func:`parse_options`)."""
        object.__setattr__(self, "_ready", False)
        self.task_id = task_id
        self._dag = dag
        self.task_group = task_group
        self.upstream_task_ids = set()
        self.downstream_task_ids = set()
        self.expand_input = getattr(self, "expand_input", None)
        self.mapped_task_group = None
        self.is_setup = False
        self.is_teardown = False
        self.params = dict(params)
        for name, value in options.items():
            setattr(self, name, value)

    def _attach(self) -> None:
        """Add the task to its DAG and task group (and to an open setup/teardown block)."""
        dag = self._dag
        if dag is None:
            return
        group = self.task_group
        if group is not None:
            self.task_id = group.child_id(self.task_id)
        self.task_id = validate_task_id(self.task_id)
        dag.add_task(self)
        if group is not None:
            group.add(self)
            self.mapped_task_group = group.mapped_ancestor()
        if self.mapped_task_group is not None and self.expand_input is not None:
            from taskstate.sdk.options import unsupported

            raise unsupported(
                "a mapped task inside a mapped task group",
                f"task {self.task_id!r}",
                "map the group only, or move the task out of it",
            )
        setup_teardown.record(self)

    def _depend_on_references(self, values: Iterable[Any]) -> None:
        """Make the tasks whose outputs ``values`` hold upstream of this one."""
        for ref in find_refs(list(values)):
            if ref.operator._dag is not self._dag:
                theirs = ref.operator._dag.dag_id if ref.operator._dag else None
                ours = self._dag.dag_id if self._dag else None
                raise DagDefinitionError(
                    f"{ref!r} is the output of a task of DAG {theirs!r}; a task can take "
                    f"outputs of its own DAG ({ours!r}) only",
                    detail={"task_id": ref.task_id},
                )
            ref.operator.add_downstream(self)

    def __setattr__(self, name: str, value: Any) -> None:
        # An output assigned after the operator is built (``op.x = other.output``) makes its
        # task upstream, as an output passed to the constructor does.
        super().__setattr__(name, value)
        if (
            self.__dict__.get("_ready")
            and name not in _NODE_ATTRIBUTES
            and not task_is_running()
            and has_references(value)
        ):
            self._depend_on_references([value])

    def __repr__(self) -> str:
        return f"<Task({type(self).__name__}): {self.task_id}>"

    # -- DAG ----------------------------------------------------------------------------------

    @property
    def dag(self) -> DAG:
        """The DAG the task belongs to."""
        dag = self._dag
        if dag is None:
            raise DagDefinitionError(f"{self!r} does not belong to a DAG")
        return dag

    @dag.setter
    def dag(self, dag: DAG) -> None:
        """``op.dag = dag``: add an operator made outside any DAG to ``dag``."""
        if self._dag is dag:
            return
        if self._dag is not None:
            raise DagDefinitionError(f"{self!r} already belongs to DAG {self._dag.dag_id!r}")
        self._dag = dag
        self.task_group = dag.task_group
        self._attach()

    @property
    def dag_id(self) -> str:
        return self.dag.dag_id

    def has_dag(self) -> bool:
        return self._dag is not None

    @property
    def log(self) -> logging.Logger:
        """The operator's logger (its lines go to the try's log)."""
        cls = type(self)
        return logging.getLogger(f"taskstate.task.operators.{cls.__module__}.{cls.__qualname__}")

    @property
    def output(self) -> XComArg:
        """A reference to the task's output (its return value)."""
        return XComArg(self)

    @property
    def node_id(self) -> str:
        return self.task_id

    @property
    def label(self) -> str:
        """The task id without its task group's prefix."""
        group = self.task_group
        prefix = f"{group.group_id}." if group is not None and group.group_id else ""
        return self.task_id[len(prefix) :] if self.task_id.startswith(prefix) else self.task_id

    @property
    def assets(self) -> tuple[Asset, ...]:
        """Every asset the task declares, inlets first, each once."""
        seen: dict[str, Asset] = {}
        for asset in (*self.inlets, *self.outlets):
            seen.setdefault(asset.name, asset)
        return tuple(seen.values())

    # -- dependencies -------------------------------------------------------------------------

    @property
    def roots(self) -> list[AbstractOperator]:
        return [self]

    @property
    def leaves(self) -> list[AbstractOperator]:
        return [self]

    def add_downstream(self, other: AbstractOperator) -> None:
        """Make ``other`` run after this task."""
        if other is self:
            raise DagDefinitionError(f"{self!r} cannot depend on itself")
        if self._dag is None or other._dag is not self._dag:
            raise DagDefinitionError(
                f"{self!r} and {other!r} belong to different DAGs",
                detail={"task_id": self.task_id},
            )
        self.downstream_task_ids.add(other.task_id)
        other.upstream_task_ids.add(self.task_id)

    @property
    def upstream_list(self) -> list[AbstractOperator]:
        return [self.dag.tasks[t] for t in sorted(self.upstream_task_ids)]

    @property
    def downstream_list(self) -> list[AbstractOperator]:
        return [self.dag.tasks[t] for t in sorted(self.downstream_task_ids)]

    def get_direct_relative_ids(self, upstream: bool = False) -> set[str]:
        return set(self.upstream_task_ids if upstream else self.downstream_task_ids)

    def get_flat_relative_ids(self, *, upstream: bool = False) -> set[str]:
        """Every task upstream (or downstream) of this one, however far."""
        tasks = self.dag.tasks
        found: set[str] = set()
        todo = list(self.get_direct_relative_ids(upstream))
        while todo:
            task_id = todo.pop()
            if task_id not in found:
                found.add(task_id)
                todo.extend(tasks[task_id].get_direct_relative_ids(upstream))
        return found

    def get_flat_relatives(self, upstream: bool = False) -> list[AbstractOperator]:
        return [self.dag.tasks[t] for t in sorted(self.get_flat_relative_ids(upstream=upstream))]

    # -- setup and teardown -------------------------------------------------------------------

    @property
    def setup_task_ids(self) -> set[str]:
        """The setup tasks directly upstream of this one: a teardown's setups."""
        tasks = self.dag.tasks
        return {t for t in self.upstream_task_ids if tasks[t].is_setup}

    def as_setup(self) -> AbstractOperator:
        """Mark the task as a setup task; returns it."""
        self.is_setup = True
        return self

    def as_teardown(
        self, *, setups: Relatives = None, on_failure_fail_dagrun: bool | None = None
    ) -> AbstractOperator:
        """Mark the task as a teardown task of ``setups`` (marked as setups and made upstream);
        it runs once they are done, whatever their state (``all_done_setup_success``)."""
        self.is_teardown = True
        self.trigger_rule = TriggerRule.ALL_DONE_SETUP_SUCCESS
        if on_failure_fail_dagrun is not None:
            self.on_failure_fail_dagrun = on_failure_fail_dagrun
        if setups is not None:
            for setup in as_nodes(setups):
                for task in setup.leaves:
                    task.is_setup = True
                setup >> self
        return self

    def __enter__(self) -> AbstractOperator:
        """``with teardown_task:``: tasks made inside run between its setups and it."""
        setup_teardown.enter([self])
        return self

    def __exit__(self, *exc_info: object) -> None:
        setup_teardown.exit()

    # -- mapping ------------------------------------------------------------------------------

    @property
    def _map_input(self) -> ExpandInput | None:
        """What the task maps over: its own ``expand``, or its mapped task group's."""
        if self.expand_input is not None:
            return self.expand_input
        group = self.mapped_task_group
        return group.expand_input if group is not None else None

    @property
    def is_mapped(self) -> bool:
        return self._map_input is not None

    @property
    def maps_over_outputs(self) -> bool:
        """Whether the number of instances depends on an upstream output."""
        source = self._map_input
        return source is not None and bool(source.counted_task_ids)

    @property
    def map_indices(self) -> list[int]:
        """The ``map_index`` of each instance registered with the run: ``[-1]`` unless mapped,
        and ``[-1]`` (a placeholder) for a task mapped over an output, until it is expanded."""
        if not self.is_mapped or self.maps_over_outputs:
            return [-1]
        return list(range(self.map_count({})))

    @property
    def mapped_output_task_ids(self) -> set[str]:
        """The tasks whose outputs decide how many instances the task has."""
        source = self._map_input
        return set(source.counted_task_ids) if source is not None else set()

    def map_count(self, outputs: Outputs, *, max_length: int | None = None) -> int:
        """How many instances the mapped task has, given the outputs it maps over by task id.

        Over ``max_length`` (``[workers] max_map_length``), the task cannot be mapped: that
        many task instances would exhaust the runner and the API server.
        """
        source = self._map_input
        if source is None:
            raise DagDefinitionError(f"{self!r} is not mapped")
        return source.count(outputs, task_id=self.task_id, max_length=max_length)

    def _argument_values(self) -> Iterator[Any]:
        """The user's arguments (where output references may be)."""
        for name, value in vars(self).items():
            if name not in _NODE_ATTRIBUTES:
                yield value

    def _references(self) -> list[XComArg]:
        refs = list(find_refs(list(self._argument_values())))
        source = self._map_input
        if source is not None:
            refs.extend(source.references())
        return refs

    @property
    def output_task_ids(self) -> set[str]:
        """The tasks whose return values the task instance needs to run."""
        return {ref.task_id for ref in self._references() if ref.key == RETURN_VALUE}

    @property
    def output_keys(self) -> set[tuple[str, str]]:
        """``(task_id, key)`` of every XCom of another key than the return value it needs;
        the task process puts them in the outputs under that tuple."""
        return {(ref.task_id, ref.key) for ref in self._references() if ref.key != RETURN_VALUE}

    # -- running ------------------------------------------------------------------------------

    def prepare(self, map_index: int, outputs: Outputs) -> Any:
        """The operator the instance ``map_index`` runs: a copy with every output reference
        resolved (given the outputs of :attr:`output_task_ids` by task id, and of
        :attr:`output_keys` by ``(task_id, key)``) and the instance's mapped values applied."""
        raise NotImplementedError

    def execute(self, context: Mapping[str, Any]) -> Any:
        """Run the task; what it returns is its output."""
        raise NotImplementedError(f"{type(self).__name__} does not implement execute()")

    def pre_execute(self, context: Mapping[str, Any]) -> None:
        """Called right before :meth:`execute`; runs the ``pre_execute=`` hook, if given."""
        hook = self.__dict__.get("_pre_execute_hook")
        if hook is not None:
            hook(context)

    def post_execute(self, context: Mapping[str, Any], result: Any = None) -> None:
        """Called right after :meth:`execute` with its result; runs the ``post_execute=``
        hook, if given."""
        hook = self.__dict__.get("_post_execute_hook")
        if hook is not None:
            hook(context, result)

    def run(self, context: Mapping[str, Any]) -> Any:
        """What the task process runs: :meth:`pre_execute`, :meth:`execute`,
        :meth:`post_execute`; returns the output."""
        self.pre_execute(context)
        result = self.execute(context)
        self.post_execute(context, result)
        return result
