"""References to task outputs: what ``load(extract())`` passes instead of a value.

Calling a task inside a DAG returns its :class:`~taskstate.sdk.task.Task`, not its value: the
value exists only once the task has run. Passed as an argument to another task (also inside a
list, tuple or dict argument, or to ``partial``/``expand``), the task is recorded as an
:class:`OutputRef` and made upstream of the task that takes it. Before the task process calls
the function, it fetches each referenced output (the upstream's JSON return value, or the list
of its instances' values if it is mapped) and puts it where the reference was.

``extract()["rows"]`` refers to one item of an output; ``extract()["rows"][0]`` goes deeper.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

from taskstate.errors import DagDefinitionError, InvalidValueError

if TYPE_CHECKING:
    from taskstate.sdk.task import Task

__all__ = ["OutputRef", "find_refs", "not_iterable", "resolve_refs"]

Item = str | int


def not_iterable(what: str) -> NoReturn:
    """Refuse to iterate over an output while the DAG is defined: its value does not exist yet."""
    raise DagDefinitionError(
        f"{what} is a task's output, known only when the task has run; it cannot be iterated "
        "while the DAG is defined. Map over it with .expand(arg=...) or pass it to a task"
    )


@dataclass(frozen=True, eq=False)
class OutputRef:
    """The output of ``task`` (or the item of it that ``path`` leads to)."""

    task: Task
    path: tuple[Item, ...] = ()

    @property
    def task_id(self) -> str:
        return self.task.task_id

    def __repr__(self) -> str:
        return f"{self.task_id}()" + "".join(f"[{key!r}]" for key in self.path)

    def __getitem__(self, key: Item) -> OutputRef:
        if not isinstance(key, str | int) or isinstance(key, bool):
            raise DagDefinitionError(
                f"{self!r}[{key!r}]: an output item is a dict key (str) or a list index (int)"
            )
        return OutputRef(self.task, (*self.path, key))

    def __iter__(self) -> Iterator[Any]:
        not_iterable(repr(self))

    def resolve(self, outputs: Mapping[str, Any]) -> Any:
        """The value referred to, given the outputs of the referenced tasks by task id."""
        value = outputs[self.task_id]
        for depth, key in enumerate(self.path):
            if not _has_item(value, key):
                at = OutputRef(self.task, self.path[:depth])
                raise InvalidValueError(
                    f"{self!r}: the output {at!r} is {_describe(value)}; it has no item {key!r}",
                    detail={"task_id": self.task_id, "item": key},
                )
            value = value[key]
        return value


def _has_item(value: Any, key: Item) -> bool:
    """A dict key of a dict, or an index of a list (JSON's two containers)."""
    if isinstance(value, dict):
        return isinstance(key, str) and key in value
    if isinstance(value, list):
        return isinstance(key, int) and -len(value) <= key < len(value)
    return False


def _describe(value: Any) -> str:
    if value is None:
        return "None"
    if isinstance(value, list | dict):
        return f"a {type(value).__name__} of {len(value)} items"
    return f"a {type(value).__name__}"


def find_refs(value: Any) -> Iterator[OutputRef]:
    """Every reference inside ``value`` (itself, or nested in lists, tuples and dicts)."""
    if isinstance(value, OutputRef):
        yield value
    elif type(value) in (list, tuple):
        for item in value:
            yield from find_refs(item)
    elif type(value) is dict:
        for item in value.values():
            yield from find_refs(item)


def resolve_refs(value: Any, outputs: Mapping[str, Any]) -> Any:
    """``value`` with every reference inside it replaced by the value it refers to."""
    if isinstance(value, OutputRef):
        return value.resolve(outputs)
    if type(value) in (list, tuple):
        return type(value)(resolve_refs(item, outputs) for item in value)
    if type(value) is dict:
        return {key: resolve_refs(item, outputs) for key, item in value.items()}
    return value
