"""``BaseOperator``: the class every operator derives from, with ``execute(context)``.

An operator is built inside a DAG (``with DAG(...)``, ``dag=``, or the enclosing task group's)
and takes its arguments by keyword. As in Airflow, the DAG's ``default_args`` (under those of
the enclosing task groups, under the operator's own ``default_args=``) fill every constructor
argument the operator class accepts and was not given: the options of ``BaseOperator`` and
the arguments of the subclass's own ``__init__`` alike. An output (``other.output``, or a
TaskFlow task) given as an argument, or set as an attribute later, makes its task upstream and
is replaced by its value before ``execute`` runs (:meth:`BaseOperator.prepare`).
"""

from __future__ import annotations

import copy
import functools
import inspect
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, TypeVar

from taskstate.errors import DagDefinitionError
from taskstate.sdk.dag import DAG, current_dag
from taskstate.sdk.node import AbstractOperator
from taskstate.sdk.options import OPTION_NAMES, parse_options
from taskstate.sdk.outputs import Outputs, capture, has_references, resolve_refs

if TYPE_CHECKING:
    from taskstate.sdk.mapped import OperatorPartial
    from taskstate.sdk.taskgroup import TaskGroup

__all__ = ["BaseOperator", "building_detached", "merged_defaults"]

F = TypeVar("F", bound=Callable[..., None])
Op = TypeVar("Op", bound="BaseOperator")

# Set while the task process builds the operator of one instance of a mapped task: the operator
# is not added to its DAG again, and its task id is already complete.
_detached: ContextVar[bool] = ContextVar("taskstate_detached_operator", default=False)


@contextmanager
def building_detached() -> Iterator[None]:
    """Build operators that are not added to their DAG (one instance of a mapped task)."""
    token = _detached.set(True)
    try:
        yield
    finally:
        _detached.reset(token)


def merged_defaults(
    dag: DAG | None, group: TaskGroup | None, own: Any
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``default_args`` that apply (the DAG's, under the task groups', under ``own``), and
    the params (the DAG's, under ``default_args["params"]``)."""
    if own is not None and not isinstance(own, Mapping):
        raise DagDefinitionError(f"default_args must be a dict, not {type(own).__name__}")
    defaults: dict[str, Any] = dict(dag.default_args) if dag is not None else {}
    if group is not None:
        defaults.update(group.default_args)
    defaults.update(own or {})
    params: dict[str, Any] = dict(dag.params) if dag is not None else {}
    params.update(defaults.get("params") or {})
    return defaults, params


def accepted_arguments(cls: type[BaseOperator]) -> frozenset[str]:
    """Every keyword argument ``cls(...)`` accepts: BaseOperator's options and the named
    parameters of each ``__init__`` in its class hierarchy (found once per class)."""
    known: frozenset[str] | None = cls.__dict__.get("_accepted_arguments")
    if known is None:
        known = _find_arguments(cls)
        type.__setattr__(cls, "_accepted_arguments", known)
    return known


def _find_arguments(cls: type[BaseOperator]) -> frozenset[str]:
    names = set(OPTION_NAMES)
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None or klass is object:
            continue
        init = getattr(init, "__wrapped__", init)
        for name, parameter in inspect.signature(init).parameters.items():
            if name != "self" and parameter.kind in (
                inspect.Parameter.KEYWORD_ONLY,
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
            ):
                names.add(name)
    return frozenset(names)


def _with_defaults(init: F) -> F:
    """Wrap an operator class's ``__init__``: the outermost call (the class being built)
    fills arguments from ``default_args``, and once built, depends on outputs it was given."""

    @functools.wraps(init)
    def wrapper(self: BaseOperator, *args: Any, **kwargs: Any) -> None:
        if args:
            raise DagDefinitionError(
                f"{type(self).__name__}(...) takes its arguments by keyword (task_id=..., ...)"
            )
        outermost = "_building" not in self.__dict__
        if outermost:
            object.__setattr__(self, "_building", True)
            kwargs = _fill_defaults(type(self), kwargs)
        try:
            init(self, **kwargs)
        finally:
            if outermost:
                del self.__dict__["_building"]
        if outermost:
            self._finish(kwargs)

    return wrapper  # type: ignore[return-value]


def _fill_defaults(cls: type[BaseOperator], kwargs: dict[str, Any]) -> dict[str, Any]:
    dag = kwargs.get("dag")
    if dag is None and not _detached.get():
        dag = current_dag()
    group = kwargs.get("task_group")
    if dag is None and group is not None:
        dag = group.dag
    if group is None and dag is not None and not _detached.get():
        from taskstate.sdk.taskgroup import current_task_group

        group = current_task_group(dag)
    defaults, params = merged_defaults(dag, group, kwargs.pop("default_args", None))
    own_params = kwargs.pop("params", None)
    if own_params is not None and not isinstance(own_params, Mapping):
        raise DagDefinitionError(f"params must be a dict, not {type(own_params).__name__}")
    params.update(own_params or {})
    filled = {k: capture(v) for k, v in kwargs.items()}
    for name in accepted_arguments(cls):
        if name not in filled and name in defaults and name not in _NEVER_DEFAULTED:
            filled[name] = defaults[name]
    filled.update(dag=dag, task_group=group, params=params)
    return filled


# Arguments that never come from default_args (``mode`` and ``deferrable`` are arguments of
# Airflow's sensors and deferrable operators only, which taskstate does not have).
_NEVER_DEFAULTED = frozenset(
    {"task_id", "dag", "task_group", "params", "default_args", "mode", "deferrable"}
)


class BaseOperator(AbstractOperator):
    """The base of every operator; a subclass implements :meth:`execute`.

    Its options (``retries``, ``trigger_rule``, ``execution_timeout``, ...) are those of
    Airflow's ``BaseOperator``: see :mod:`taskstate.sdk.options` for which are built, accepted
    without effect, or refused.
    """

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in ("template_fields", "template_ext"):
            value = cls.__dict__.get(name)
            if isinstance(value, str):
                # A single name given as a string means that one name, as Airflow reads it.
                setattr(cls, name, (value,))
        if "__init__" in cls.__dict__:
            cls.__init__ = _with_defaults(cls.__dict__["__init__"])  # type: ignore[method-assign]

    def __init__(
        self,
        *,
        task_id: str,
        dag: DAG | None = None,
        task_group: TaskGroup | None = None,
        params: Mapping[str, Any] | None = None,
        **options: Any,
    ) -> None:
        if not isinstance(task_id, str):
            raise DagDefinitionError(f"task_id must be a string, not {task_id!r}")
        where = f"task {task_id!r}"
        unknown = sorted(set(options) - OPTION_NAMES)
        if unknown:
            raise DagDefinitionError(
                f"{type(self).__name__} {where}: unknown argument(s) {unknown}",
                detail={"task_id": task_id, "arguments": unknown},
            )
        self._init_node(
            task_id=task_id,
            dag=dag,
            task_group=task_group,
            options=parse_options(options, where=where),
            params=params or {},
        )
        if not _detached.get():
            self._attach()

    def _finish(self, kwargs: Mapping[str, Any]) -> None:
        """After the outermost ``__init__``: outputs given as arguments make their tasks
        upstream, and later assignments are watched."""
        if self.has_dag() and not _detached.get():
            ignored = {"dag", "task_group", "params", "expand_input"}
            self._depend_on_references(v for k, v in kwargs.items() if k not in ignored)
            if self.expand_input is not None:
                self._depend_on_references(self.expand_input.references())
        object.__setattr__(self, "_ready", True)

    @classmethod
    def partial(cls, **kwargs: Any) -> OperatorPartial:
        """Fix the arguments every instance of a mapped operator shares; then ``.expand``."""
        from taskstate.sdk.mapped import OperatorPartial

        return OperatorPartial(cls, kwargs)

    def execute(self, context: Mapping[str, Any]) -> Any:
        """Run the task; what it returns is its output."""
        raise NotImplementedError(f"{type(self).__name__} does not implement execute()")

    def prepare(self: Op, map_index: int, outputs: Outputs) -> Op:
        """A copy of the operator for the instance ``map_index``, every output reference
        resolved (see :meth:`AbstractOperator.prepare`)."""
        values = self._map_values(map_index, outputs)
        group = self.mapped_task_group
        index = map_index if group is not None else None
        new = copy.copy(self)
        object.__setattr__(new, "_ready", False)
        new.upstream_task_ids = set(self.upstream_task_ids)
        new.downstream_task_ids = set(self.downstream_task_ids)
        for name, value in list(vars(new).items()):
            if has_references(value):
                setattr(new, name, resolve_refs(value, outputs, map_index=index, group=group))
        new._apply_mapped_values(values)
        return new

    def _map_values(self, map_index: int, outputs: Outputs) -> dict[str, Any]:
        """The instance's own mapped values; checks that ``map_index`` is one of its own."""
        source = self._map_input
        if source is None:
            if map_index != -1:
                raise DagDefinitionError(f"{self!r} is not mapped; it has no map index {map_index}")
            return {}
        values = source.values(map_index, outputs, task_id=self.task_id)
        return values if self.expand_input is not None else {}

    def _apply_mapped_values(self, values: dict[str, Any]) -> None:
        """Put the instance's mapped values where they go (TaskFlow: the function's arguments)."""
        for name, value in values.items():
            setattr(self, name, value)


# BaseOperator itself fills its options from default_args too.
BaseOperator.__init__ = _with_defaults(BaseOperator.__init__)  # type: ignore[method-assign]
