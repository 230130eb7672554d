"""``@task``: turn a function into a task of the DAG being defined.

Calling a decorated function inside a ``with DAG(...)`` block adds a :class:`Task` to that DAG
and returns it; ``>>`` and ``<<`` between tasks (or lists of tasks) set the order. Passing the
returned task to another task (``load(extract())``) passes its output, and makes it upstream
(see :mod:`taskstate.sdk.outputs`).

``f.expand(x=[1, 2, 3])`` adds a *mapped* task instead: one task instance per value, numbered by
``map_index`` from 0, each with a state namespace of its own. Several expanded arguments give
one instance per combination (their cross product, in order); ``f.partial(y=1).expand(...)``
fixes the arguments every instance shares. ``f.expand(x=upstream())`` maps over a list that an
upstream task returns: the task has one placeholder instance (map index -1) until the upstream
succeeds, when the runner has it replaced by one instance per item.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import timedelta
from typing import Any, Generic, ParamSpec, TypeVar, overload

from taskstate.errors import DagDefinitionError, UnmappableOutputError
from taskstate.sdk.asset import Asset
from taskstate.sdk.dag import DAG, current_dag
from taskstate.sdk.outputs import OutputRef, find_refs, not_iterable, resolve_refs
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
        execution_timeout: timedelta | None = None,
        inlets: Sequence[Asset] = (),
        outlets: Sequence[Asset] = (),
        op_args: tuple[Any, ...] = (),
        op_kwargs: dict[str, Any] | None = None,
        expand_kwargs: dict[str, tuple[Any, ...] | OutputRef] | None = None,
    ) -> None:
        self.dag = dag
        self.task_id = validate_task_id(task_id)
        self.python_callable = python_callable
        self.retries = retries
        self.retry_delay = retry_delay
        # The supervisor stops a try that runs longer, and fails it (its retries apply).
        self.execution_timeout = execution_timeout
        self.inlets = tuple(inlets)
        self.outlets = tuple(outlets)
        self.op_args = op_args
        self.op_kwargs = dict(op_kwargs or {})
        # Mapped tasks only: the values of each expanded argument, or the output that holds them.
        self.expand_kwargs = dict(expand_kwargs) if expand_kwargs is not None else None
        self.upstream_task_ids: set[str] = set()
        self.downstream_task_ids: set[str] = set()

    def __repr__(self) -> str:
        return f"<Task {self.dag.dag_id}.{self.task_id}>"

    @property
    def is_async(self) -> bool:
        return inspect.iscoroutinefunction(self.python_callable)

    def __getitem__(self, key: str | int) -> OutputRef:
        """``extract()["rows"]``: an item of the task's output, to pass to another task."""
        return OutputRef(self)[key]

    def __iter__(self) -> Iterator[Any]:
        # Without this, __getitem__ would make a task iterable, endlessly.
        not_iterable(repr(self))

    @property
    def is_mapped(self) -> bool:
        return self.expand_kwargs is not None

    @property
    def maps_over_outputs(self) -> bool:
        """Whether the number of instances depends on an upstream output."""
        return any(isinstance(v, OutputRef) for v in (self.expand_kwargs or {}).values())

    @property
    def map_indices(self) -> list[int]:
        """The ``map_index`` of each instance registered with the run: ``[-1]`` unless mapped,
        and ``[-1]`` (a placeholder) for a task mapped over an output, until it is expanded."""
        if self.expand_kwargs is None or self.maps_over_outputs:
            return [-1]
        return list(range(self.map_count({})))

    @property
    def output_task_ids(self) -> set[str]:
        """The tasks whose outputs the arguments take."""
        found = find_refs((self.op_args, self.op_kwargs, self.expand_kwargs))
        return {ref.task_id for ref in found}

    @property
    def mapped_output_task_ids(self) -> set[str]:
        """The tasks whose outputs decide how many instances the task has."""
        values = (self.expand_kwargs or {}).values()
        return {v.task_id for v in values if isinstance(v, OutputRef)}

    def map_count(self, outputs: Mapping[str, Any], *, max_length: int | None = None) -> int:
        """How many instances the mapped task has, given the outputs it maps over by task id.

        Over ``max_length`` (``[workers] max_map_length``), the task cannot be mapped: that
        many task instances would exhaust the runner and the API server.
        """
        lists = self._expand_lists(outputs)
        count = math.prod(len(values) for values in lists.values())
        if max_length is not None and count > max_length:
            lengths = " x ".join(str(len(values)) for values in lists.values())
            names = ", ".join(f"{name}=..." for name in lists)
            raise UnmappableOutputError(
                f"{self.task_id}.expand({names}) would make {count} task instances ({lengths}), "
                f"more than [workers] max_map_length = {max_length}",
                detail={"task_id": self.task_id, "count": count, "max_map_length": max_length},
            )
        return count

    def arguments_for(
        self, map_index: int, outputs: Mapping[str, Any]
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """The positional and keyword arguments of the instance ``map_index``, given the
        outputs of :attr:`output_task_ids` by task id."""
        args = resolve_refs(self.op_args, outputs)
        kwargs = resolve_refs(self.op_kwargs, outputs)
        if self.expand_kwargs is None:
            if map_index != -1:
                raise DagDefinitionError(f"{self!r} is not mapped; it has no map index {map_index}")
            return args, kwargs
        lists = self._expand_lists(outputs)
        count = math.prod(len(values) for values in lists.values())
        if not 0 <= map_index < count:
            raise DagDefinitionError(
                f"task {self.task_id!r} has no map index {map_index} (it has {count} instances)"
            )
        # The cross product in order: the last argument varies fastest.
        rest = map_index
        chosen: dict[str, Any] = {}
        for name, values in reversed(lists.items()):
            rest, position = divmod(rest, len(values))
            chosen[name] = resolve_refs(values[position], outputs)
        return args, {**kwargs, **dict(reversed(chosen.items()))}

    def _expand_lists(self, outputs: Mapping[str, Any]) -> dict[str, Sequence[Any]]:
        lists: dict[str, Sequence[Any]] = {}
        for name, values in (self.expand_kwargs or {}).items():
            if not isinstance(values, OutputRef):
                lists[name] = values
                continue
            value = values.resolve(outputs)
            if not isinstance(value, list):
                kind = "None (it returned nothing)" if value is None else type(value).__name__
                raise UnmappableOutputError(
                    f"{self.task_id}.expand({name}=...) maps over the output of "
                    f"{values!r}, which is {kind}, not a list",
                    detail={"task_id": self.task_id, "upstream": values.task_id, "type": kind},
                )
            lists[name] = value
        return lists

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


def _execution_timeout(value: timedelta | float | int | None) -> timedelta | None:
    if value is None:
        return None
    if isinstance(value, timedelta):
        limit = value
    elif isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
        limit = timedelta(seconds=value)
    else:
        raise DagDefinitionError(
            f"execution_timeout must be a timedelta or seconds, not {value!r}",
            detail={"option": "execution_timeout"},
        )
    if limit <= timedelta(0):
        raise DagDefinitionError(
            f"execution_timeout must be positive, not {value!r}",
            detail={"option": "execution_timeout"},
        )
    return limit


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
        upstream: dict[str, Task] = {}
        args = tuple(_capture(a, dag, upstream) for a in args)
        kwargs = {k: _capture(v, dag, upstream) for k, v in kwargs.items()}
        expand_kwargs = (
            None if expand is None else _expand_kwargs(self.function, kwargs, expand, dag, upstream)
        )
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
            execution_timeout=_execution_timeout(options.get("execution_timeout")),
            inlets=_assets("inlets", options.get("inlets")),
            outlets=_assets("outlets", options.get("outlets")),
            op_args=args,
            op_kwargs=kwargs,
            expand_kwargs=expand_kwargs,
        )
        dag.add_task(new)
        for up in upstream.values():
            up.set_downstream(new)
        return new


class PartialTask:
    """``f.partial(...)``: arguments fixed for every instance, waiting for ``.expand(...)``."""

    def __init__(self, decorator: TaskDecorator[Any, Any], kwargs: dict[str, Any]) -> None:
        self._decorator = decorator
        self._kwargs = kwargs

    def expand(self, **kwargs: Iterable[Any]) -> Task:
        """Add the mapped task: one instance per value (per combination) of ``kwargs``."""
        return self._decorator._add((), self._kwargs, kwargs)


def _capture(value: Any, dag: DAG, upstream: dict[str, Task]) -> Any:
    """``value`` with every task in it replaced by a reference to its output (recorded in
    ``upstream``), looking inside lists, tuples and dicts."""
    if isinstance(value, Task):
        value = OutputRef(value)
    if isinstance(value, OutputRef):
        if value.task.dag is not dag:
            raise DagDefinitionError(
                f"{value!r} is the output of a task of DAG {value.task.dag.dag_id!r}; a task "
                f"can take outputs of its own DAG ({dag.dag_id!r}) only",
                detail={"task_id": value.task_id},
            )
        upstream[value.task_id] = value.task
        return value
    if type(value) in (list, tuple):
        return type(value)(_capture(item, dag, upstream) for item in value)
    if type(value) is dict:
        return {key: _capture(item, dag, upstream) for key, item in value.items()}
    return value


def _expand_kwargs(
    function: Callable[..., Any],
    fixed: dict[str, Any],
    expand: dict[str, Iterable[Any]],
    dag: DAG,
    upstream: dict[str, Task],
) -> dict[str, tuple[Any, ...] | OutputRef]:
    name = getattr(function, "__name__", repr(function))
    if not expand:
        raise DagDefinitionError(f"{name}.expand() needs at least one argument to map over")
    both = sorted(set(fixed) & set(expand))
    if both:
        raise DagDefinitionError(f"{name}: {both} given to both partial() and expand()")
    found: dict[str, tuple[Any, ...] | OutputRef] = {}
    for arg, values in expand.items():
        if isinstance(values, Task | OutputRef):
            found[arg] = _capture(values, dag, upstream)
            continue
        if isinstance(values, str | bytes | dict) or not isinstance(values, Iterable):
            raise DagDefinitionError(
                f"{name}.expand({arg}=...) needs a list of values or a task's output, "
                f"not {type(values).__name__}"
            )
        literal = tuple(_capture(v, dag, upstream) for v in values)
        if not literal:
            raise DagDefinitionError(f"{name}.expand({arg}=...) needs at least one value")
        found[arg] = literal
    return found


def _dag_defaults(dag: DAG) -> dict[str, Any]:
    keys = ("retries", "retry_delay", "execution_timeout")
    return {k: v for k, v in dag.default_args.items() if k in keys}


_OPTIONS = frozenset(
    {"task_id", "retries", "retry_delay", "execution_timeout", "inlets", "outlets"}
)


@overload
def task(function: Callable[P, R], /) -> TaskDecorator[P, R]: ...


@overload
def task(
    *,
    task_id: str | None = None,
    retries: int = 0,
    retry_delay: timedelta | float | None = None,
    execution_timeout: timedelta | float | None = None,
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
