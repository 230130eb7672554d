"""``PythonOperator`` and its branching kin: run a Python callable.

The callable receives ``op_args`` positionally and ``op_kwargs`` by keyword, plus the context
keys it asks for (all of them with ``**kwargs``; see :mod:`taskstate.sdk.callables`), and
``templates_dict`` (templated) as ``templates_dict``. What it returns is the task's output.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from taskstate.errors import DagDefinitionError
from taskstate.sdk.callables import call_with_context, determine_kwargs, is_async_callable
from taskstate.sdk.operator import BaseOperator
from taskstate.sdk.operators.branch import (
    BranchMixIn,
    ShortCircuitMixIn,
    follow_branches,
    short_circuit,
)

__all__ = ["BranchPythonOperator", "PythonOperator", "ShortCircuitOperator"]


class PythonOperator(BaseOperator):
    """Run ``python_callable(*op_args, **op_kwargs)``, with the context keys it asks for."""

    template_fields: Sequence[str] = ("templates_dict", "op_args", "op_kwargs")
    template_fields_renderers = {"templates_dict": "json", "op_args": "py", "op_kwargs": "py"}
    ui_color = "#ffefeb"

    def __init__(
        self,
        *,
        python_callable: Callable[..., Any],
        op_args: Collection[Any] | None = None,
        op_kwargs: Mapping[str, Any] | None = None,
        templates_dict: dict[str, Any] | None = None,
        templates_exts: Sequence[str] | None = None,
        show_return_value_in_logs: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not callable(python_callable):
            raise DagDefinitionError(
                f"task {self.task_id!r}: python_callable must be callable, not {python_callable!r}"
            )
        self.python_callable = python_callable
        self.op_args = op_args or ()
        self.op_kwargs = dict(op_kwargs or {})
        self.templates_dict = templates_dict
        if templates_exts:
            self.template_ext = tuple(templates_exts)
        self.show_return_value_in_logs = show_return_value_in_logs

    @property
    def is_async(self) -> bool:
        return is_async_callable(self.python_callable)

    def determine_kwargs(self, context: Mapping[str, Any]) -> dict[str, Any]:
        """The keyword arguments the callable receives: ``op_kwargs`` over the context."""
        merged = {**context, **self.op_kwargs, "templates_dict": self.templates_dict}
        return determine_kwargs(self.python_callable, tuple(self.op_args), merged)

    def execute(self, context: Mapping[str, Any]) -> Any:
        object.__setattr__(self, "_context", context)
        self.op_kwargs = self.determine_kwargs(context)
        result = self.execute_callable()
        if self.show_return_value_in_logs:
            self.log.info("Done. Returned value was: %s", result)
        else:
            self.log.info("Done. Returned value not shown")
        return result

    def execute_callable(self) -> Any:
        """Call the callable with ``op_args`` and ``op_kwargs``; return what it returns."""
        context = getattr(self, "_context", {})
        return call_with_context(
            self.python_callable, tuple(self.op_args), self.op_kwargs, context, self.log
        )


class BranchPythonOperator(BranchMixIn, PythonOperator):
    """A branch whose callable returns the task id(s) (or task group ids) to follow."""

    def execute(self, context: Mapping[str, Any]) -> Any:
        branches = super().execute(context)
        self.log.info("Branch into %s", branches)
        return follow_branches(self, context, branches)


class ShortCircuitOperator(ShortCircuitMixIn, PythonOperator):
    """Continue only when the callable returns a truthy value; otherwise skip downstream
    (every task downstream, or the direct ones with ``ignore_downstream_trigger_rules=False``)."""

    def __init__(self, *, ignore_downstream_trigger_rules: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ignore_downstream_trigger_rules = ignore_downstream_trigger_rules

    def execute(self, context: Mapping[str, Any]) -> Any:
        condition = super().execute(context)
        self.log.info("Condition result is %s", condition)
        if condition:
            self.log.info("Proceeding with downstream tasks...")
        else:
            self.log.info("Skipping downstream tasks")
        return short_circuit(self, context, condition)
