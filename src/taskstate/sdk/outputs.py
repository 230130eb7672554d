"""References to task outputs (``XComArg``): what ``load(extract())`` passes instead of a value.

Calling a task inside a DAG returns the task, not its value: the value exists only once the task
has run. Passed as an argument to another task or operator (also inside a list, tuple or dict
argument, or to ``partial``/``expand``), the task is recorded as an :class:`XComArg` and made
upstream of the task that takes it. Before the task process runs an operator, it fetches each
referenced output (the upstream's JSON return value, or the list of its instances' values if
it is mapped) and puts it where the reference was (see ``prepare`` in :mod:`taskstate.sdk.node`).

``extract()["rows"]`` refers to one item of an output; ``extract()["rows"][0]`` goes deeper.
(In Airflow, ``x["rows"]`` names the XCom of key ``rows``, which exists when the task has
``multiple_outputs``; taskstate reads the same value as an item of the return value, so it
also works without ``multiple_outputs``.) ``XComArg(op, key="k")`` refers to an XCom pushed
under another key than the return value's.

Inside a mapped task group, a reference to another task of the same group resolves to that
task's output *for the same map index*; from outside, to the list of every instance's output.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

from taskstate.errors import DagDefinitionError, InvalidValueError
from taskstate.sdk.dependencies import DependencyMixin, Relatives

if TYPE_CHECKING:
    from taskstate.sdk.node import AbstractOperator

__all__ = [
    "RETURN_VALUE",
    "OutputRef",
    "Reference",
    "XComArg",
    "capture",
    "find_refs",
    "not_iterable",
    "resolve_refs",
]

# The XCom key of a task's return value, which is its output.
RETURN_VALUE = "return_value"

Item = str | int
# The outputs of upstream tasks: by task id for return values, by (task id, key) for other keys.
Outputs = Mapping[Any, Any]


def not_iterable(what: str) -> NoReturn:
    """Refuse to iterate over an output while the DAG is defined: its value does not exist yet."""
    raise DagDefinitionError(
        f"{what} is a task's output, known only when the task has run; it cannot be iterated "
        "while the DAG is defined. Map over it with .expand(arg=...) or pass it to a task"
    )


class Reference:
    """A value known only when a task instance runs (an output, a mapped group's argument)."""

    def references(self) -> Iterator[XComArg]:
        """The outputs this value is computed from."""
        raise NotImplementedError

    def resolve_in(self, outputs: Outputs, map_index: int | None, group: Any) -> Any:
        """The value for the instance ``map_index`` of a task of the mapped task ``group``
        (``None``, ``None`` outside mapped task groups)."""
        raise NotImplementedError


@dataclass(frozen=True, eq=False)
class XComArg(Reference, DependencyMixin):
    """The output of ``operator`` (its XCom ``key``), or the item of it ``path`` leads to."""

    operator: AbstractOperator
    key: str = RETURN_VALUE
    path: tuple[Item, ...] = ()

    @property
    def task(self) -> AbstractOperator:
        return self.operator

    @property
    def task_id(self) -> str:
        return self.operator.task_id

    @property
    def output_key(self) -> Any:
        """Its key in the outputs a task instance is given: the task id for a return value."""
        return self.task_id if self.key == RETURN_VALUE else (self.task_id, self.key)

    def __repr__(self) -> str:
        head = f"{self.task_id}()"
        if self.key != RETURN_VALUE:
            head = f"XComArg({self.task_id}, key={self.key!r})"
        return head + "".join(f"[{item!r}]" for item in self.path)

    def __str__(self) -> str:
        """The Jinja expression that pulls this value, as Airflow renders an XComArg."""
        pull = (
            f"task_instance.xcom_pull(task_ids='{self.task_id}', "
            f"dag_id='{self.operator.dag.dag_id}', key='{self.key}')"
        )
        items = "".join(f"[{item!r}]" for item in self.path)
        return "{{ " + pull + items + " }}"

    def __getitem__(self, key: Item) -> XComArg:
        if not isinstance(key, str | int) or isinstance(key, bool):
            raise DagDefinitionError(
                f"{self!r}[{key!r}]: an output item is a dict key (str) or a list index (int)"
            )
        return XComArg(self.operator, self.key, (*self.path, key))

    def __iter__(self) -> Iterator[Any]:
        not_iterable(repr(self))

    def references(self) -> Iterator[XComArg]:
        yield self

    def resolve(self, outputs: Outputs, map_index: int | None = None) -> Any:
        """The value referred to, given the outputs of the referenced tasks; ``map_index``
        picks one instance's value out of a mapped task's list."""
        value = outputs[self.output_key]
        if map_index is not None:
            if not isinstance(value, list) or not 0 <= map_index < len(value):
                raise InvalidValueError(
                    f"{self!r}: the instance {map_index} of {self.task_id!r} has no output",
                    detail={"task_id": self.task_id, "map_index": map_index},
                )
            value = value[map_index]
        for depth, key in enumerate(self.path):
            if not _has_item(value, key):
                at = XComArg(self.operator, self.key, self.path[:depth])
                raise InvalidValueError(
                    f"{self!r}: the output {at!r} is {_describe(value)}; it has no item {key!r}",
                    detail={"task_id": self.task_id, "item": key},
                )
            value = value[key]
        return value

    def resolve_in(self, outputs: Outputs, map_index: int | None, group: Any) -> Any:
        same_group = group is not None and self.operator.mapped_task_group is group
        return self.resolve(outputs, map_index if same_group else None)

    # -- dependencies: an output stands for its task ---------------------------------------

    @property
    def roots(self) -> list[AbstractOperator]:
        return [self.operator]

    @property
    def leaves(self) -> list[AbstractOperator]:
        return [self.operator]

    def set_upstream(self, other: Relatives, edge_modifier: Any = None) -> None:
        self.operator.set_upstream(other)

    def set_downstream(self, other: Relatives, edge_modifier: Any = None) -> None:
        self.operator.set_downstream(other)

    def as_setup(self) -> XComArg:
        """Mark the task as a setup task (see ``BaseOperator.as_setup``)."""
        self.operator.as_setup()
        return self

    def as_teardown(
        self, *, setups: Any = None, on_failure_fail_dagrun: bool | None = None
    ) -> XComArg:
        """Mark the task as a teardown task (see ``BaseOperator.as_teardown``)."""
        self.operator.as_teardown(setups=setups, on_failure_fail_dagrun=on_failure_fail_dagrun)
        return self

    def __enter__(self) -> Any:
        return self.operator.__enter__()

    def __exit__(self, *exc_info: object) -> None:
        self.operator.__exit__(*exc_info)

    def _unsupported(self, name: str) -> NoReturn:
        from taskstate.sdk.options import unsupported

        raise unsupported(f"XComArg.{name}()", repr(self), "map over the output with .expand")

    def map(self, function: Any) -> NoReturn:
        self._unsupported("map")

    def zip(self, *others: Any, fillvalue: Any = None) -> NoReturn:
        self._unsupported("zip")

    def concat(self, *others: Any) -> NoReturn:
        self._unsupported("concat")


# Today's name of the same thing.
OutputRef = XComArg


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


def capture(value: Any) -> Any:
    """``value`` with every TaskFlow task in it (what calling a ``@task`` function returns)
    replaced by a reference to its output, looking inside lists, tuples and dicts."""
    if getattr(value, "passes_output", False):
        return XComArg(value)
    if type(value) in (list, tuple):
        return type(value)(capture(item) for item in value)
    if type(value) is dict:
        return {key: capture(item) for key, item in value.items()}
    return value


def find_refs(value: Any, *, mapped_arguments: bool = True) -> Iterator[XComArg]:
    """Every output reference inside ``value`` (itself, or nested in lists, tuples and dicts);
    with ``mapped_arguments=False``, not those a mapped task group's argument stands for."""
    if isinstance(value, XComArg):
        yield value
    elif isinstance(value, Reference):
        if mapped_arguments:
            yield from value.references()
    elif type(value) in (list, tuple):
        for item in value:
            yield from find_refs(item, mapped_arguments=mapped_arguments)
    elif type(value) is dict:
        for item in value.values():
            yield from find_refs(item, mapped_arguments=mapped_arguments)


def has_references(value: Any) -> bool:
    """Whether anything inside ``value`` is known only when the task runs."""
    if isinstance(value, Reference):
        return True
    if type(value) in (list, tuple):
        return any(has_references(item) for item in value)
    if type(value) is dict:
        return any(has_references(item) for item in value.values())
    return False


def resolve_refs(
    value: Any, outputs: Outputs, *, map_index: int | None = None, group: Any = None
) -> Any:
    """``value`` with every reference inside it replaced by the value it refers to."""
    if isinstance(value, Reference):
        return value.resolve_in(outputs, map_index, group)
    if type(value) in (list, tuple):
        return type(value)(
            resolve_refs(item, outputs, map_index=map_index, group=group) for item in value
        )
    if type(value) is dict:
        return {
            key: resolve_refs(item, outputs, map_index=map_index, group=group)
            for key, item in value.items()
        }
    return value
