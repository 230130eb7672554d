"""Classic operators mapped over their constructor arguments:
``BashOperator.partial(task_id="t").expand(bash_command=[...])``.

The DAG holds a :class:`MappedOperator`: the operator class, the arguments every instance
shares, and what it maps over. Its options (``retries``, ``trigger_rule``, ...) come from the
shared arguments and ``default_args``, as an operator's would, so the runner treats it like any
task. Mapping over an option itself is refused: every instance of a task shares its options.
The operator an instance runs is built only in the task process, from the shared arguments and
the instance's values (:meth:`MappedOperator.prepare`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from taskstate.errors import DagDefinitionError
from taskstate.sdk.dag import current_dag
from taskstate.sdk.expand import DictOfListsInput, ExpandInput, ListOfDictsInput
from taskstate.sdk.node import AbstractOperator
from taskstate.sdk.operator import (
    _NEVER_DEFAULTED,
    BaseOperator,
    accepted_arguments,
    building_detached,
    merged_defaults,
)
from taskstate.sdk.options import OPTION_NAMES, parse_options
from taskstate.sdk.outputs import Outputs, capture, resolve_refs

__all__ = ["MappedOperator", "OperatorPartial"]


class OperatorPartial:
    """``SomeOperator.partial(...)``: shared arguments, waiting for ``.expand(...)``."""

    def __init__(self, operator_class: type[BaseOperator], kwargs: dict[str, Any]) -> None:
        if not isinstance(kwargs.get("task_id"), str):
            raise DagDefinitionError(f"{operator_class.__name__}.partial() needs a task_id")
        self.operator_class = operator_class
        self.kwargs = kwargs

    def expand(self, **mapped: Any) -> MappedOperator:
        """Add the mapped task: one instance per value (per combination) of ``mapped``."""
        name = str(self.kwargs["task_id"])
        expand_input = DictOfListsInput.build(name, mapped, fixed=self.kwargs)
        return MappedOperator(self.operator_class, self.kwargs, expand_input)

    def expand_kwargs(self, kwargs: Any, *, strict: bool = True) -> MappedOperator:
        """Add the mapped task: one instance per dict of arguments in ``kwargs``."""
        name = str(self.kwargs["task_id"])
        expand_input = ListOfDictsInput.build(name, kwargs)
        return MappedOperator(self.operator_class, self.kwargs, expand_input)


class MappedOperator(AbstractOperator):
    """A classic operator mapped over some of its arguments (see the module docstring)."""

    def __init__(
        self,
        operator_class: type[BaseOperator],
        partial_kwargs: Mapping[str, Any],
        expand_input: ExpandInput,
    ) -> None:
        self.operator_class = operator_class
        kwargs = dict(partial_kwargs)
        task_id = kwargs.pop("task_id")
        where = f"task {task_id!r}"
        dag = kwargs.pop("dag", None) or current_dag()
        if dag is None:
            raise DagDefinitionError(f"{where} was made outside a `with DAG(...)` block")
        from taskstate.sdk.taskgroup import current_task_group

        group = kwargs.pop("task_group", None) or current_task_group(dag)
        defaults, params = merged_defaults(dag, group, kwargs.pop("default_args", None))
        params.update(kwargs.pop("params", None) or {})
        accepted = accepted_arguments(operator_class)
        mapped = set(expand_input.names)
        unknown = sorted((set(kwargs) | mapped) - accepted)
        if unknown:
            raise DagDefinitionError(
                f"{operator_class.__name__} {where}: unknown argument(s) {unknown}",
                detail={"task_id": task_id, "arguments": unknown},
            )
        options_mapped = sorted(mapped & OPTION_NAMES)
        if options_mapped:
            raise DagDefinitionError(
                f"{where}: cannot map over {options_mapped}: every instance of a task shares "
                "its options; give them to partial()",
                detail={"task_id": task_id, "arguments": options_mapped},
            )
        kwargs = {k: capture(v) for k, v in kwargs.items()}
        for name in accepted - mapped - _NEVER_DEFAULTED:
            if name not in kwargs and name in defaults:
                kwargs[name] = defaults[name]
        options = {k: v for k, v in kwargs.items() if k in OPTION_NAMES}
        self.expand_input = expand_input
        self._init_node(
            task_id=task_id,
            dag=dag,
            task_group=group,
            options=parse_options(options, where=where),
            params=params,
        )
        self.partial_kwargs = kwargs
        self.template_fields = operator_class.template_fields
        self.template_ext = operator_class.template_ext
        self._attach()
        self._depend_on_references([*kwargs.values(), list(expand_input.references())])
        object.__setattr__(self, "_ready", True)

    def __repr__(self) -> str:
        return f"<Mapped({self.operator_class.__name__}): {self.task_id}>"

    def __getattr__(self, name: str) -> Any:
        # The operator's own arguments, as its instances will have them (a branch operator's
        # rule reads e.g. ``ignore_downstream_trigger_rules``).
        if name.startswith("__"):
            raise AttributeError(name)
        kwargs = self.__dict__.get("partial_kwargs", {})
        if name in kwargs:
            return kwargs[name]
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def prepare(self, map_index: int, outputs: Outputs) -> BaseOperator:
        """The operator of the instance ``map_index``: built from the shared arguments and the
        instance's values, every output reference resolved."""
        values = (
            self.expand_input.values(map_index, outputs, task_id=self.task_id)
            if (self.expand_input is not None)
            else {}
        )
        kwargs = resolve_refs(self.partial_kwargs, outputs)
        kwargs.update(values)
        with building_detached():
            op = self.operator_class(
                task_id=self.task_id,
                dag=self._dag,
                task_group=self.task_group,
                params=self.params,
                **kwargs,
            )
        op.upstream_task_ids = set(self.upstream_task_ids)
        op.downstream_task_ids = set(self.downstream_task_ids)
        op.is_setup = self.is_setup
        op.is_teardown = self.is_teardown
        op.trigger_rule = self.trigger_rule
        op.on_failure_fail_dagrun = self.on_failure_fail_dagrun
        return op

    def execute(self, context: Mapping[str, Any]) -> Any:
        raise DagDefinitionError(
            f"{self!r} is mapped: run the operator prepare(map_index, outputs) builds"
        )
