"""``@task`` (and ``@task.branch``, ``@task.short_circuit``, ``@task.bash``), ``@setup`` and
``@teardown``: turn a function into a task of the DAG being defined.

A decorated function called inside a DAG adds a TaskFlow task (:mod:`taskstate.sdk.taskflow`)
and returns it. The call's arguments are checked against the function's signature at once
(parameters named like context keys are filled when the task runs), and ``default_args`` named
like a parameter fill it, as in Airflow. ``f.expand(x=[...])``, ``f.partial(y=1).expand(...)``
and ``f.expand_kwargs([...])`` add a mapped task (:mod:`taskstate.sdk.expand`);
``f.override(task_id=..., retries=...)`` changes options for one call.

A ``@task.<name>`` that taskstate does not build (``virtualenv``, ``external_python``,
``docker``, ``kubernetes``, ``sensor``, ...) raises ``UnsupportedFeatureError`` where it is used.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any, Generic, NoReturn, ParamSpec, TypeVar, overload

from taskstate.errors import DagDefinitionError
from taskstate.sdk.callables import check_call, infer_multiple_outputs
from taskstate.sdk.context import KNOWN_CONTEXT_KEYS
from taskstate.sdk.dag import current_dag
from taskstate.sdk.expand import DictOfListsInput, ExpandInput, ListOfDictsInput
from taskstate.sdk.operator import accepted_arguments, merged_defaults
from taskstate.sdk.options import unsupported
from taskstate.sdk.outputs import XComArg
from taskstate.sdk.taskflow import BashTask, BranchTask, ShortCircuitTask, Task
from taskstate.sdk.trigger_rule import TriggerRule

__all__ = ["TaskDecorator", "setup", "task", "teardown"]

P = ParamSpec("P")
R = TypeVar("R")

# Arguments of the TaskFlow classes that the decorator itself provides.
_PROVIDED = frozenset({"python_callable", "op_args", "op_kwargs", "expand_input", "task_id"})


class TaskDecorator(Generic[P, R]):
    """A function decorated with ``@task``; call it inside a DAG to add a task."""

    def __init__(
        self,
        function: Callable[P, R],
        *,
        operator_class: type[Task] = Task,
        kwargs: Mapping[str, Any] | None = None,
        multiple_outputs: bool | None = None,
        decorator_name: str = "task",
        partial_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        if not callable(function):
            raise DagDefinitionError(f"@{decorator_name} decorates a function, not {function!r}")
        if "self" in inspect.signature(function).parameters:
            raise DagDefinitionError(f"@{decorator_name} does not support methods")
        self.function = function
        self.operator_class = operator_class
        self.decorator_name = decorator_name
        self.kwargs = dict(kwargs or {})
        allowed = (accepted_arguments(operator_class) - _PROVIDED) | {"task_id"}
        unknown = set(self.kwargs) - allowed
        if unknown:
            raise DagDefinitionError(
                f"unknown @{decorator_name} option(s) {sorted(unknown)}; known: {sorted(allowed)}"
            )
        if multiple_outputs is None:
            multiple_outputs = infer_multiple_outputs(function)
        self.multiple_outputs = multiple_outputs
        self.partial_kwargs = dict(partial_kwargs or {})
        self.is_setup = False
        self.is_teardown = False
        self.on_failure_fail_dagrun = False
        functools.update_wrapper(self, function)

    @property
    def name(self) -> str:
        return str(getattr(self.function, "__name__", repr(self.function)))

    def _evolve(self, **changes: Any) -> TaskDecorator[P, R]:
        new = TaskDecorator(
            self.function,
            operator_class=self.operator_class,
            kwargs=changes.get("kwargs", self.kwargs),
            multiple_outputs=self.multiple_outputs,
            decorator_name=self.decorator_name,
            partial_kwargs=changes.get("partial_kwargs", self.partial_kwargs),
        )
        new.is_setup = self.is_setup
        new.is_teardown = self.is_teardown
        new.on_failure_fail_dagrun = self.on_failure_fail_dagrun
        return new

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Task:
        if self.partial_kwargs:
            raise DagDefinitionError(f"{self.name}.partial(...) is followed by .expand(...)")
        return self._create(args, dict(kwargs), None)

    def override(self, **kwargs: Any) -> TaskDecorator[P, R]:
        """The same task function with some options changed (``task_id``, ``retries``, ...)."""
        return self._evolve(kwargs={**self.kwargs, **kwargs})

    def partial(self, **kwargs: Any) -> TaskDecorator[P, R]:
        """Fix arguments every mapped instance shares; then call ``.expand(...)``."""
        self._refuse_context_keys("partial", kwargs)
        both = sorted(set(kwargs) & set(self.partial_kwargs))
        if both:
            raise DagDefinitionError(f"{self.name}.partial(): {both} given twice")
        return self._evolve(partial_kwargs={**self.partial_kwargs, **kwargs})

    def expand(self, **kwargs: Any) -> Task:
        """Add a mapped task: one instance per value of the argument (per combination)."""
        self._refuse_context_keys("expand", kwargs)
        expand_input = DictOfListsInput.build(self.name, kwargs, fixed=self.partial_kwargs)
        return self._create((), dict(self.partial_kwargs), expand_input)

    def expand_kwargs(self, kwargs: Any, *, strict: bool = True) -> Task:
        """Add a mapped task: one instance per dict of keyword arguments in ``kwargs``."""
        expand_input = ListOfDictsInput.build(self.name, kwargs)
        return self._create((), dict(self.partial_kwargs), expand_input)

    def _refuse_context_keys(self, method: str, kwargs: Mapping[str, Any]) -> None:
        keys = sorted(KNOWN_CONTEXT_KEYS & set(kwargs))
        if keys:
            raise DagDefinitionError(
                f"cannot call {self.name}.{method}() on task context variable(s) {keys}"
            )

    def _create(
        self, args: tuple[Any, ...], kwargs: dict[str, Any], expand_input: ExpandInput | None
    ) -> Task:
        options = dict(self.kwargs)
        dag = options.get("dag") or current_dag()
        if dag is None:
            raise DagDefinitionError(
                f"task {self.name!r} was called outside a `with DAG(...)` block"
            )
        from taskstate.sdk.taskgroup import current_task_group

        group = options.get("task_group") or current_task_group(dag)
        if self.is_teardown:
            if "trigger_rule" in options:
                raise DagDefinitionError(
                    f"{self.name}: a teardown task's trigger_rule is all_done_setup_success; "
                    "it cannot be set"
                )
            options["trigger_rule"] = TriggerRule.ALL_DONE_SETUP_SUCCESS
        if (
            expand_input is not None
            and options.get("trigger_rule") == TriggerRule.ALWAYS
            and any(True for _ in expand_input.references())
        ):
            raise DagDefinitionError(
                f"{self.name}: a task mapped over an output cannot have trigger rule 'always'"
            )
        fail_dagrun = options.pop("on_failure_fail_dagrun", self.on_failure_fail_dagrun)
        task_id = options.pop("task_id", None) or self.name
        multiple_outputs = options.pop("multiple_outputs", None)
        defaults, _ = merged_defaults(dag, group, options.get("default_args"))
        parameters = list(inspect.signature(self.function).parameters)
        for name in parameters[len(args) :]:
            if name not in kwargs and name in defaults:
                kwargs[name] = defaults[name]
        mapped = dict.fromkeys(expand_input.names if expand_input is not None else ())
        check_call(
            self.function,
            self.name,
            args,
            {**kwargs, **mapped},
            complete=not isinstance(expand_input, ListOfDictsInput),
        )
        op = self.operator_class(
            python_callable=self.function,
            task_id=task_id,
            op_args=args,
            op_kwargs=kwargs,
            expand_input=expand_input,
            multiple_outputs=(
                self.multiple_outputs if multiple_outputs is None else multiple_outputs
            ),
            **options,
        )
        op.is_setup = self.is_setup
        op.is_teardown = self.is_teardown
        op.on_failure_fail_dagrun = fail_dagrun
        docs = (op.doc, op.doc_md, op.doc_json, op.doc_yaml, op.doc_rst)
        if self.function.__doc__ and not any(docs):
            op.doc_md = self.function.__doc__
        return op


def _decorate(
    operator_class: type[Task],
    decorator_name: str,
    function: Callable[..., Any] | None,
    multiple_outputs: bool | None,
    kwargs: dict[str, Any],
) -> Any:
    if function is not None:
        if not callable(function):
            raise DagDefinitionError(
                f"@{decorator_name} takes options by keyword, not {function!r}"
            )
        return TaskDecorator(
            function,
            operator_class=operator_class,
            kwargs=kwargs,
            multiple_outputs=multiple_outputs,
            decorator_name=decorator_name,
        )
    # Check the options now, where the decorator is written.
    TaskDecorator(
        _probe, operator_class=operator_class, kwargs=kwargs, decorator_name=decorator_name
    )

    def decorate(fn: Callable[..., Any]) -> TaskDecorator[Any, Any]:
        return TaskDecorator(
            fn,
            operator_class=operator_class,
            kwargs=kwargs,
            multiple_outputs=multiple_outputs,
            decorator_name=decorator_name,
        )

    return decorate


def _probe() -> None: ...


class _TaskDecoratorCollection:
    """``task``: ``@task``, ``@task(...)``, and the ``@task.<kind>`` variants."""

    @overload
    def __call__(self, python_callable: Callable[P, R], /) -> TaskDecorator[P, R]: ...

    @overload
    def __call__(
        self, *, multiple_outputs: bool | None = None, **kwargs: Any
    ) -> Callable[[Callable[P, R]], TaskDecorator[P, R]]: ...

    def __call__(  # type: ignore[misc]  # options by keyword, the function positionally
        self,
        python_callable: Callable[..., Any] | None = None,
        /,
        *,
        multiple_outputs: bool | None = None,
        **kwargs: Any,
    ) -> Any:
        """Decorate a function as a task, bare (``@task``) or with options
        (``@task(retries=3)``)."""
        return _decorate(Task, "task", python_callable, multiple_outputs, kwargs)

    def python(
        self,
        python_callable: Callable[..., Any] | None = None,
        /,
        *,
        multiple_outputs: bool | None = None,
        **kwargs: Any,
    ) -> Any:
        """``@task.python``: the same as ``@task``."""
        return _decorate(Task, "task.python", python_callable, multiple_outputs, kwargs)

    def branch(
        self,
        python_callable: Callable[..., Any] | None = None,
        /,
        *,
        multiple_outputs: bool | None = None,
        **kwargs: Any,
    ) -> Any:
        """``@task.branch``: the function returns the task id(s) to follow."""
        return _decorate(BranchTask, "task.branch", python_callable, multiple_outputs, kwargs)

    def short_circuit(
        self,
        python_callable: Callable[..., Any] | None = None,
        /,
        *,
        multiple_outputs: bool | None = None,
        **kwargs: Any,
    ) -> Any:
        """``@task.short_circuit``: downstream tasks run only if the function returns a
        truthy value."""
        name = "task.short_circuit"
        return _decorate(ShortCircuitTask, name, python_callable, multiple_outputs, kwargs)

    def bash(
        self,
        python_callable: Callable[..., Any] | None = None,
        /,
        *,
        multiple_outputs: bool | None = None,
        **kwargs: Any,
    ) -> Any:
        """``@task.bash``: the function returns a Bash command, which the task then runs."""
        return _decorate(BashTask, "task.bash", python_callable, multiple_outputs, kwargs)

    def __getattr__(self, name: str) -> NoReturn:
        if name.startswith("_"):
            raise AttributeError(name)
        hint = "run the code in a @task, or in a @task.bash command"
        raise unsupported(f"@task.{name}", f"@task.{name}", hint)


task = _TaskDecoratorCollection()


def setup(function: Callable[P, R]) -> TaskDecorator[P, R]:
    """``@setup``: mark a task function (plain, or already ``@task``) as a setup task."""
    decorator = _as_task(function, "setup")
    decorator.is_setup = True
    return decorator


def teardown(
    function: Callable[..., Any] | None = None, /, *, on_failure_fail_dagrun: bool = False
) -> Any:
    """``@teardown``: mark a task function as a teardown task (with
    ``on_failure_fail_dagrun=True``, its failure fails the run)."""

    def mark(fn: Callable[..., Any]) -> TaskDecorator[Any, Any]:
        decorator = _as_task(fn, "teardown")
        decorator.is_teardown = True
        decorator.on_failure_fail_dagrun = on_failure_fail_dagrun
        return decorator

    return mark if function is None else mark(function)


def _as_task(function: Any, name: str) -> TaskDecorator[Any, Any]:
    from taskstate.sdk.task_group_decorator import TaskGroupFactory

    if isinstance(function, TaskGroupFactory):
        raise DagDefinitionError(f"@{name}: task groups cannot be marked as setup or teardown")
    if isinstance(function, TaskDecorator):
        return function
    if isinstance(function, XComArg) or not callable(function):
        raise DagDefinitionError(f"@{name} decorates a function, not {function!r}")
    decorator: TaskDecorator[Any, Any] = task(function)
    return decorator
