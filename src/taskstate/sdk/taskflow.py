"""TaskFlow tasks: the operators ``@task`` functions become when called inside a DAG.

Calling a decorated function adds a :class:`Task` and returns it. Passed to another task, it
stands for its output (``load(extract())``, ``extract()["rows"]``; see
:mod:`taskstate.sdk.outputs`). A mapped TaskFlow task (``f.expand(x=[...])``) is a ``Task``
too, whose instances each call the function with their own values among its keyword arguments.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterator, Mapping, Sequence
from typing import Any

from taskstate.sdk.callables import call_with_context
from taskstate.sdk.context import render_again
from taskstate.sdk.expand import ExpandInput
from taskstate.sdk.operator import _detached
from taskstate.sdk.operators.bash import SCRIPT_EXTENSIONS, run_command_of, skip_codes
from taskstate.sdk.operators.branch import (
    BranchMixIn,
    ShortCircuitMixIn,
    follow_branches,
    short_circuit,
)
from taskstate.sdk.operators.python import PythonOperator
from taskstate.sdk.outputs import Item, Outputs, XComArg, not_iterable

__all__ = ["BashTask", "BranchTask", "ShortCircuitTask", "Task"]


class Task(PythonOperator):
    """A TaskFlow task: its function, the arguments it was called with, and how it runs.

    A second task made from the same function in the same DAG (or task group) is numbered as
    Airflow numbers it: ``name__1``, ``name__2``, ...
    """

    passes_output = True

    def __init__(
        self,
        *,
        python_callable: Callable[..., Any],
        task_id: str,
        op_args: Sequence[Any] = (),
        op_kwargs: Mapping[str, Any] | None = None,
        expand_input: ExpandInput | None = None,
        **kwargs: Any,
    ) -> None:
        dag = kwargs.get("dag")
        if dag is not None and not _detached.get():
            task_id = dag.unique_task_id(task_id, kwargs.get("task_group"))
        self.expand_input = expand_input
        super().__init__(
            python_callable=python_callable,
            task_id=task_id,
            op_args=tuple(op_args),
            op_kwargs=op_kwargs,
            **kwargs,
        )

    @property
    def operator(self) -> Task:
        """The task whose output this is: itself, since calling a task returns the task where
        Airflow returns an ``XComArg`` of it (``XComArg(extract().operator, key="k")``)."""
        return self

    def __getitem__(self, key: Item) -> XComArg:
        """``extract()["rows"]``: an item of the task's output, to pass to another task."""
        return XComArg(self)[key]

    def __iter__(self) -> Iterator[Any]:
        # Without this, __getitem__ would make a task iterable, endlessly.
        not_iterable(repr(self))

    def __str__(self) -> str:
        """The Jinja expression that pulls the output, as Airflow renders a task's result."""
        return str(XComArg(self))

    def _apply_mapped_values(self, values: dict[str, Any]) -> None:
        # The mapped values are the function's keyword arguments.
        self.op_kwargs = {**self.op_kwargs, **values}

    def arguments_for(
        self, map_index: int, outputs: Outputs
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """The positional and keyword arguments the instance ``map_index`` calls the function
        with, given the outputs of :attr:`output_task_ids` by task id."""
        prepared = self.prepare(map_index, outputs)
        return tuple(prepared.op_args), dict(prepared.op_kwargs)


class BranchTask(BranchMixIn, Task):
    """``@task.branch``: the function returns the task id(s) or task group id(s) to follow."""

    def execute(self, context: Mapping[str, Any]) -> Any:
        branches = super().execute(context)
        self.log.info("Branch into %s", branches)
        return follow_branches(self, context, branches)


class ShortCircuitTask(ShortCircuitMixIn, Task):
    """``@task.short_circuit``: downstream tasks run only if the function returns a truthy
    value (see :class:`~taskstate.sdk.operators.python.ShortCircuitOperator`)."""

    def __init__(self, *, ignore_downstream_trigger_rules: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.ignore_downstream_trigger_rules = ignore_downstream_trigger_rules

    def execute(self, context: Mapping[str, Any]) -> Any:
        condition = super().execute(context)
        self.log.info("Condition result is %s", condition)
        return short_circuit(self, context, condition)


class BashTask(Task):
    """``@task.bash``: the function returns a Bash command, which then runs as
    :class:`~taskstate.sdk.operators.bash.BashOperator` runs its ``bash_command``."""

    template_fields: Sequence[str] = ("op_args", "op_kwargs", "bash_command", "env", "cwd")
    template_ext: Sequence[str] = SCRIPT_EXTENSIONS

    def __init__(
        self,
        *,
        env: dict[str, str] | None = None,
        append_env: bool = False,
        output_encoding: str = "utf-8",
        skip_on_exit_code: int | Container[int] | None = 99,
        cwd: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.bash_command: str | None = None
        self.env = env
        self.append_env = append_env
        self.output_encoding = output_encoding
        self.skip_on_exit_code = skip_codes(skip_on_exit_code)
        self.cwd = cwd

    def execute(self, context: Mapping[str, Any]) -> Any:
        kwargs = self.determine_kwargs(context)
        command = call_with_context(
            self.python_callable, tuple(self.op_args), kwargs, context, self.log
        )
        if not isinstance(command, str) or not command.strip():
            raise TypeError(
                "The returned value from the TaskFlow callable must be a non-empty string."
            )
        self.bash_command = command
        render_again(self, context)
        return run_command_of(self, context).output
