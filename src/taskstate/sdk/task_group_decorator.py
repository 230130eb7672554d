"""``@task_group``: a function whose tasks form a task group each time it is called.

Calling the function makes a :class:`~taskstate.sdk.taskgroup.TaskGroup` (its id is the
function's name, ``name__1`` when called again) and runs the function inside it; the call
returns what the function returns, or the group if that is None, so ``start >> group() >> end``
works either way. ``.override(group_id=..., ...)`` changes the group's arguments for a call.

``.expand(x=[...])``, ``.partial(y=1).expand(...)`` and ``.expand_kwargs([...])`` make a
*mapped* task group: the function runs once, with a
:class:`~taskstate.sdk.expand.MappedArgument` for each mapped argument, and every task inside
the group has one instance per value (see :class:`~taskstate.sdk.taskgroup.MappedTaskGroup`).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any, Generic, ParamSpec, TypeVar, overload

from taskstate.errors import DagDefinitionError
from taskstate.sdk.context import KNOWN_CONTEXT_KEYS
from taskstate.sdk.expand import DictOfListsInput, ExpandInput, ListOfDictsInput, MappedArgument
from taskstate.sdk.taskgroup import MappedTaskGroup, TaskGroup

__all__ = ["TaskGroupFactory", "task_group"]

P = ParamSpec("P")
R = TypeVar("R")

_GROUP_ARGUMENTS = frozenset(inspect.signature(TaskGroup.__init__).parameters) - {"self"}


class TaskGroupFactory(Generic[P, R]):
    """A function decorated with ``@task_group``."""

    def __init__(
        self,
        function: Callable[P, R],
        tg_kwargs: Mapping[str, Any] | None = None,
        partial_kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        self.function = function
        self.tg_kwargs = dict(tg_kwargs or {})
        unknown = sorted(set(self.tg_kwargs) - _GROUP_ARGUMENTS)
        if unknown:
            raise DagDefinitionError(
                f"unknown @task_group argument(s) {unknown}; known: {sorted(_GROUP_ARGUMENTS)}"
            )
        self.tg_kwargs.setdefault("group_id", getattr(function, "__name__", "group"))
        self.partial_kwargs = dict(partial_kwargs or {})
        functools.update_wrapper(self, function)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Any:
        """Make the group; returns what the function returns, or else the group."""
        return self._create(lambda group: self.function(*args, **kwargs), None)

    def override(self, **kwargs: Any) -> TaskGroupFactory[P, R]:
        """The same group function with some of the group's arguments changed."""
        return TaskGroupFactory(self.function, {**self.tg_kwargs, **kwargs}, self.partial_kwargs)

    def partial(self, **kwargs: Any) -> TaskGroupFactory[P, R]:
        """Fix arguments every instance of the mapped group shares; then ``.expand(...)``."""
        _refuse_context_keys("partial", kwargs)
        return TaskGroupFactory(self.function, self.tg_kwargs, {**self.partial_kwargs, **kwargs})

    def expand(self, **kwargs: Any) -> Any:
        """Make a mapped task group: one instance of each of its tasks per value."""
        _refuse_context_keys("expand", kwargs)
        name = str(self.tg_kwargs["group_id"])
        expand_input = DictOfListsInput.build(name, kwargs, fixed=self.partial_kwargs)
        return self._mapped(expand_input, list(kwargs))

    def expand_kwargs(self, kwargs: Any) -> Any:
        """Make a mapped task group: one instance of each of its tasks per dict of arguments."""
        parameters = inspect.signature(self.function).parameters.values()
        if any(p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in parameters):
            raise DagDefinitionError(
                "expand_kwargs() on a task group function with * or ** is not supported"
            )
        name = str(self.tg_kwargs["group_id"])
        expand_input = ListOfDictsInput.build(name, kwargs)
        names = [p.name for p in parameters if p.name not in self.partial_kwargs]
        return self._mapped(expand_input, names)

    def _mapped(self, expand_input: ExpandInput, names: list[str]) -> Any:
        def run(group: TaskGroup) -> Any:
            group_id = group.group_id or ""
            mapped = {n: MappedArgument(expand_input, n, group_id) for n in names}
            function: Callable[..., Any] = self.function
            return function(**self.partial_kwargs, **mapped)

        return self._create(run, expand_input)

    def _create(self, run: Callable[[TaskGroup], Any], expand_input: ExpandInput | None) -> Any:
        arguments = {"add_suffix_on_collision": True, **self.tg_kwargs}
        group = (
            TaskGroup(**arguments)
            if expand_input is None
            else MappedTaskGroup(**arguments, expand_input=expand_input)
        )
        with group:
            doc = self.function.__doc__
            if doc:
                group.tooltip = group.tooltip or doc
                group.doc_md = group.doc_md or doc
            result = run(group)
        return group if result is None else result


def _refuse_context_keys(method: str, kwargs: Mapping[str, Any]) -> None:
    keys = sorted(KNOWN_CONTEXT_KEYS & set(kwargs))
    if keys:
        raise DagDefinitionError(f"cannot call {method}() on task context variable(s) {keys}")


@overload
def task_group(python_callable: Callable[P, R], /) -> TaskGroupFactory[P, R]: ...


@overload
def task_group(
    group_id: str | None = None, /, **tg_kwargs: Any
) -> Callable[[Callable[P, R]], TaskGroupFactory[P, R]]: ...


def task_group(python_callable: Any = None, /, **tg_kwargs: Any) -> Any:
    """Decorate a function as a task group, bare (``@task_group``) or with the group's
    arguments (``@task_group(group_id="g", default_args={...})``)."""
    if callable(python_callable) and not tg_kwargs:
        return TaskGroupFactory(python_callable)
    if isinstance(python_callable, str):
        tg_kwargs.setdefault("group_id", python_callable)

    def decorate(function: Callable[P, R]) -> TaskGroupFactory[P, R]:
        return TaskGroupFactory(function, tg_kwargs)

    return decorate
