"""``@task``: turn a function into a task of the DAG being defined.

Calling a decorated function inside a ``with DAG(...)`` block adds a :class:`Task` to that DAG
and returns it; ``>>`` and ``<<`` between tasks (or lists of tasks) set the order.

``f.expand(x=[1, 2, 3])`` adds a *mapped* task instead: one task instance per value, numbered by
``map_index`` from 0, each with a state namespace of its own. Several expanded arguments give
one instance per combination (their cross product, in order); ``f.partial(y=1).expand(...)``
fixes the arguments every instance shares.
"""

from __future__ import annotations

import functools
import inspect
import itertools
from collections.abc import Callable, Iterable, Sequence
from datetime import timedelta
from typing import Any, Generic, ParamSpec, TypeVar, overload

from taskstate.errors import DagDefinitionError
from taskstate.sdk.asset import Asset
from taskstate.sdk.dag import DAG, current_dag
from taskstate.state.codec import validate_task_id

__all__ = ["PartialTask", "Task", "TaskDecorator", "task"]

P = ParamSpec("P")
R = TypeVar("R")


class Task:
    """One task of a DAG: the function to run and how (retries, declared assets, order)."""

    def __init__(
        self,
        *,
        dag: DAG,
        task_id: str,
        python_callable: Callable[..., Any],
        retries: int = 0,
        retry_delay: timedelta = timedelta(0),
        inlets: Sequence[Asset] = (),
        outlets: Sequence[Asset] = (),
        op_args: tuple[Any, ...] = (),
        op_kwargs: dict[str, Any] | None = None,
        expand_kwargs: dict[str, tuple[Any, ...]] | None = None,
    ) -> None:
        self.dag = dag
        self.task_id = validate_task_id(task_id)
        self.python_callable = python_callable
        self.retries = retries
        self.retry_delay = retry_delay
        self.inlets = tuple(inlets)
        self.outlets = tuple(outlets)
        self.op_args = op_args
        self.op_kwargs = dict(op_kwargs or {})
        # Mapped tasks only: the values of each expanded argument.
        self.expand_kwargs = dict(expand_kwargs) if expand_kwargs is not None else None
        self.upstream_task_ids: set[str] = set()
        self.downstream_task_ids: set[str] = set()

    def __repr__(self) -> str:
        return f"<Task {self.dag.dag_id}.{self.task_id}>"

    @property
    def is_async(self) -> bool:
        return inspect.iscoroutinefunction(self.python_callable)

    @property
    def map_indices(self) -> list[int]:
        """The ``map_index`` of each of the task's instances: ``[-1]`` unless it is mapped."""
        if self.expand_kwargs is None:
            return [-1]
        count = 1
        for values in self.expand_kwargs.values():
            count *= len(values)
        return list(range(count))

    def kwargs_for(self, map_index: int) -> dict[str, Any]:
        """The keyword arguments of the instance ``map_index``."""
        if self.expand_kwargs is None:
            if map_index != -1:
                raise DagDefinitionError(f"{self!r} is not mapped; it has no map index {map_index}")
            return dict(self.op_kwargs)
        if map_index not in self.map_indices:
            raise DagDefinitionError(
                f"{self!r} has {len(self.map_indices)} mapped instances; "
                f"it has no map index {map_index}"
            )
        names = list(self.expand_kwargs)
        combination = next(
            itertools.islice(itertools.product(*self.expand_kwargs.values()), map_index, None)
        )
        return {**self.op_kwargs, **dict(zip(names, combination, strict=True))}

    @property
    def assets(self) -> tuple[Asset, ...]:
        """Every asset the task declares, inlets first, each once."""
        seen: dict[str, Asset] = {}
        for asset in (*self.inlets, *self.outlets):
            seen.setdefault(asset.name, asset)
        return tuple(seen.values())

    def set_downstream(self, other: Task | Sequence[Task]) -> None:
        for down in _as_tasks(other):
            if down.dag is not self.dag:
                raise DagDefinitionError(
                    f"{self!r} and {down!r} belong to different DAGs",
                    detail={"task_id": self.task_id},
                )
            if down is self:
                raise DagDefinitionError(f"{self!r} cannot depend on itself")
            self.downstream_task_ids.add(down.task_id)
            down.upstream_task_ids.add(self.task_id)

    def set_upstream(self, other: Task | Sequence[Task]) -> None:
        for up in _as_tasks(other):
            up.set_downstream(self)

    def __rshift__(self, other: Task | Sequence[Task]) -> Task | Sequence[Task]:
        self.set_downstream(other)
        return other

    def __lshift__(self, other: Task | Sequence[Task]) -> Task | Sequence[Task]:
        self.set_upstream(other)
        return other

    def __rrshift__(self, other: Sequence[Task]) -> Task:
        """``[a, b] >> self``."""
        self.set_upstream(other)
        return self

    def __rlshift__(self, other: Sequence[Task]) -> Task:
        """``[a, b] << self``."""
        self.set_downstream(other)
        return self


def _as_tasks(value: Task | Iterable[Task]) -> list[Task]:
    items = [value] if isinstance(value, Task) else list(value)
    for item in items:
        if not isinstance(item, Task):
            raise DagDefinitionError(
                f"dependencies are set between tasks, not {type(item).__name__}: {item!r}"
            )
    return items


def _retry_delay(value: timedelta | float | int | None) -> timedelta:
    if value is None:
        return timedelta(0)
    if isinstance(value, timedelta):
        delay = value
    elif isinstance(value, int | float) and not isinstance(value, bool):
        delay = timedelta(seconds=value)
    else:
        raise DagDefinitionError(f"retry_delay must be a timedelta or seconds, not {value!r}")
    if delay < timedelta(0):
        raise DagDefinitionError(f"retry_delay must not be negative: {value!r}")
    return delay


def _assets(what: str, value: Iterable[Asset] | Asset | None) -> tuple[Asset, ...]:
    if value is None:
        return ()
    items = [value] if isinstance(value, Asset) else list(value)
    for item in items:
        if not isinstance(item, Asset):
            raise DagDefinitionError(f"{what} must be Asset objects, not {item!r}")
    return tuple(items)


class TaskDecorator(Generic[P, R]):
    """A function decorated with ``@task``; call it inside a DAG to add a task."""

    def __init__(self, function: Callable[P, R], options: dict[str, Any]) -> None:
        self.function = function
        self.options = options
        functools.update_wrapper(self, function)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Task:
        return self._add(args, kwargs, None)

    def partial(self, **kwargs: Any) -> PartialTask:
        """Fix arguments every mapped instance shares; then call ``.expand(...)``."""
        return PartialTask(self, kwargs)

    def expand(self, **kwargs: Iterable[Any]) -> Task:
        """Add a mapped task: one instance per value of the argument (per combination)."""
        return self._add((), {}, kwargs)

    def _add(
        self,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        expand: dict[str, Iterable[Any]] | None,
    ) -> Task:
        dag = current_dag()
        if dag is None:
            raise DagDefinitionError(
                f"task {self.function.__name__!r} was called outside a `with DAG(...)` block"
            )
        for arg in (*args, *kwargs.values(), *(expand or {}).values()):
            if isinstance(arg, Task):
                raise DagDefinitionError(
                    f"passing the output of {arg!r} as an argument is not supported yet; "
                    "set the order with >> and share data through state instead"
                )
        expand_kwargs = None if expand is None else _expand_kwargs(self.function, kwargs, expand)
        options = {**_dag_defaults(dag), **self.options}
        task_id = options.get("task_id") or dag.unique_task_id(self.function.__name__)
        retries = options.get("retries", 0)
        if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
            raise DagDefinitionError(f"retries must be a whole number >= 0, not {retries!r}")
        new = Task(
            dag=dag,
            task_id=task_id,
            python_callable=self.function,
            retries=retries,
            retry_delay=_retry_delay(options.get("retry_delay")),
            inlets=_assets("inlets", options.get("inlets")),
            outlets=_assets("outlets", options.get("outlets")),
            op_args=tuple(args),
            op_kwargs=dict(kwargs),
            expand_kwargs=expand_kwargs,
        )
        dag.add_task(new)
        return new


class PartialTask:
    """``f.partial(...)``: arguments fixed for every instance, waiting for ``.expand(...)``."""

    def __init__(self, decorator: TaskDecorator[Any, Any], kwargs: dict[str, Any]) -> None:
        self._decorator = decorator
        self._kwargs = kwargs

    def expand(self, **kwargs: Iterable[Any]) -> Task:
        """Add the mapped task: one instance per value (per combination) of ``kwargs``."""
        return self._decorator._add((), self._kwargs, kwargs)


def _expand_kwargs(
    function: Callable[..., Any], fixed: dict[str, Any], expand: dict[str, Iterable[Any]]
) -> dict[str, tuple[Any, ...]]:
    name = getattr(function, "__name__", repr(function))
    if not expand:
        raise DagDefinitionError(f"{name}.expand() needs at least one argument to map over")
    both = sorted(set(fixed) & set(expand))
    if both:
        raise DagDefinitionError(f"{name}: {both} given to both partial() and expand()")
    found: dict[str, tuple[Any, ...]] = {}
    for arg, values in expand.items():
        if isinstance(values, str | bytes | dict) or not isinstance(values, Iterable):
            raise DagDefinitionError(
                f"{name}.expand({arg}=...) needs a list of values, not {type(values).__name__}"
            )
        found[arg] = tuple(values)
        if not found[arg]:
            raise DagDefinitionError(f"{name}.expand({arg}=...) needs at least one value")
    return found


def _dag_defaults(dag: DAG) -> dict[str, Any]:
    keys = ("retries", "retry_delay")
    return {k: v for k, v in dag.default_args.items() if k in keys}


_OPTIONS = frozenset({"task_id", "retries", "retry_delay", "inlets", "outlets"})


@overload
def task(function: Callable[P, R], /) -> TaskDecorator[P, R]: ...


@overload
def task(
    *,
    task_id: str | None = None,
    retries: int = 0,
    retry_delay: timedelta | float | None = None,
    inlets: Sequence[Asset] | None = None,
    outlets: Sequence[Asset] | None = None,
) -> Callable[[Callable[P, R]], TaskDecorator[P, R]]: ...


def task(function: Callable[P, R] | None = None, /, **options: Any) -> Any:
    """Decorate a function as a task, bare (``@task``) or with options (``@task(retries=3)``)."""
    unknown = set(options) - _OPTIONS
    if unknown:
        raise DagDefinitionError(
            f"unknown @task option(s) {sorted(unknown)}; known: {sorted(_OPTIONS)}"
        )
    if function is not None:
        return TaskDecorator(function, options)

    def decorate(fn: Callable[P, R]) -> TaskDecorator[P, R]:
        return TaskDecorator(fn, options)

    return decorate
