"""What a mapped task (or mapped task group) maps over: ``expand(...)`` and ``expand_kwargs(...)``.

``expand(x=[1, 2], y=upstream())`` maps over the cross product of its arguments' values, in
order, the last argument varying fastest; a value may be a literal list (or dict: its
``(key, value)`` pairs) or an upstream output (or an item of one) holding a list.
``expand_kwargs([{"x": 1}, {"x": 2, "y": 3}])`` maps over a list of argument dicts, given
literally or as an upstream output. Either way the instances are numbered by ``map_index``
from 0. When every list is literal, the count is known as the DAG is
parsed; otherwise the task has one placeholder instance (map index -1) until its upstream tasks
have run (see :mod:`taskstate.runner.mapping`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from taskstate.errors import DagDefinitionError, InvalidValueError, UnmappableOutputError
from taskstate.sdk.outputs import RETURN_VALUE, Outputs, Reference, XComArg, capture, resolve_refs

__all__ = ["DictOfListsInput", "ExpandInput", "ListOfDictsInput", "MappedArgument"]


class ExpandInput:
    """The values a mapped task or task group maps over."""

    def references(self) -> Iterator[XComArg]:
        """Every output the values are read from."""
        raise NotImplementedError

    @property
    def counted_task_ids(self) -> set[str]:
        """The tasks whose outputs decide how many instances there are."""
        raise NotImplementedError

    @property
    def names(self) -> list[str]:
        """The argument names mapped over (as far as they are known before running)."""
        raise NotImplementedError

    def count(self, outputs: Outputs, *, task_id: str, max_length: int | None = None) -> int:
        """How many instances, given the outputs of :attr:`counted_task_ids` by task id."""
        raise NotImplementedError

    def values(self, map_index: int, outputs: Outputs, *, task_id: str) -> dict[str, Any]:
        """The arguments of the instance ``map_index``, every reference resolved."""
        raise NotImplementedError

    def _check_index(self, map_index: int, count: int, task_id: str) -> None:
        if not 0 <= map_index < count:
            raise DagDefinitionError(
                f"task {task_id!r} has no map index {map_index} (it has {count} instances)"
            )


def _mappable_output(ref: XComArg, where: str) -> XComArg:
    if ref.key != RETURN_VALUE:
        raise DagDefinitionError(
            f"{where} maps over {ref!r}, an XCom of another key than the return value; a task "
            "maps over return values only"
        )
    return ref


class DictOfListsInput(ExpandInput):
    """``expand(name=values, ...)``: the cross product of each argument's values."""

    def __init__(self, lists: dict[str, tuple[Any, ...] | XComArg]) -> None:
        self.lists = lists

    @classmethod
    def build(
        cls, name: str, expand: Mapping[str, Any], *, fixed: Iterable[str] = ()
    ) -> DictOfListsInput:
        """Check the arguments of ``name.expand(...)`` and capture the outputs in them."""
        if not expand:
            raise DagDefinitionError(f"{name}.expand() needs at least one argument to map over")
        both = sorted(set(fixed) & set(expand))
        if both:
            raise DagDefinitionError(f"{name}: {both} given to both partial() and expand()")
        lists: dict[str, tuple[Any, ...] | XComArg] = {}
        for arg, values in expand.items():
            values = capture(values)
            if isinstance(values, XComArg):
                lists[arg] = _mappable_output(values, f"{name}.expand({arg}=...)")
                continue
            if isinstance(values, MappedArgument):
                raise DagDefinitionError(
                    f"{name}.expand({arg}=...): a task inside a mapped task group cannot map "
                    "over the group's argument; it already runs once per value"
                )
            if isinstance(values, dict):
                # As in Airflow: a literal dict maps over its (key, value) pairs.
                values = list(values.items())
            if isinstance(values, str | bytes) or not isinstance(values, Iterable):
                raise DagDefinitionError(
                    f"{name}.expand({arg}=...) needs a list of values or a task's output, "
                    f"not {type(values).__name__}"
                )
            literal = tuple(values)
            if not literal:
                raise DagDefinitionError(f"{name}.expand({arg}=...) needs at least one value")
            lists[arg] = literal
        return cls(lists)

    def references(self) -> Iterator[XComArg]:
        from taskstate.sdk.outputs import find_refs

        yield from find_refs(list(self.lists.values()))

    @property
    def counted_task_ids(self) -> set[str]:
        return {v.task_id for v in self.lists.values() if isinstance(v, XComArg)}

    @property
    def names(self) -> list[str]:
        return list(self.lists)

    def _lists(self, outputs: Outputs, task_id: str) -> dict[str, Sequence[Any]]:
        lists: dict[str, Sequence[Any]] = {}
        for name, values in self.lists.items():
            if not isinstance(values, XComArg):
                lists[name] = values
                continue
            value = values.resolve(outputs)
            if not isinstance(value, list):
                kind = "None (it returned nothing)" if value is None else type(value).__name__
                raise UnmappableOutputError(
                    f"{task_id}.expand({name}=...) maps over the output of "
                    f"{values!r}, which is {kind}, not a list",
                    detail={"task_id": task_id, "upstream": values.task_id, "type": kind},
                )
            lists[name] = value
        return lists

    def count(self, outputs: Outputs, *, task_id: str, max_length: int | None = None) -> int:
        lists = self._lists(outputs, task_id)
        count = math.prod(len(values) for values in lists.values())
        if max_length is not None and count > max_length:
            lengths = " x ".join(str(len(values)) for values in lists.values())
            names = ", ".join(f"{name}=..." for name in lists)
            raise UnmappableOutputError(
                f"{task_id}.expand({names}) would make {count} task instances ({lengths}), "
                f"more than [workers] max_map_length = {max_length}",
                detail={"task_id": task_id, "count": count, "max_map_length": max_length},
            )
        return count

    def values(self, map_index: int, outputs: Outputs, *, task_id: str) -> dict[str, Any]:
        lists = self._lists(outputs, task_id)
        self._check_index(map_index, math.prod(len(v) for v in lists.values()), task_id)
        # The cross product in order: the last argument varies fastest.
        rest = map_index
        chosen: dict[str, Any] = {}
        for name, values in reversed(lists.items()):
            rest, position = divmod(rest, len(values))
            chosen[name] = resolve_refs(values[position], outputs)
        return dict(reversed(chosen.items()))


class ListOfDictsInput(ExpandInput):
    """``expand_kwargs(dicts)``: one instance per dict of arguments."""

    def __init__(self, dicts: tuple[Any, ...] | XComArg) -> None:
        self.dicts = dicts

    @classmethod
    def build(cls, name: str, value: Any) -> ListOfDictsInput:
        """Check the argument of ``name.expand_kwargs(...)`` and capture the outputs in it."""
        value = capture(value)
        if isinstance(value, XComArg):
            return cls(_mappable_output(value, f"{name}.expand_kwargs(...)"))
        if isinstance(value, list | tuple):
            for item in value:
                if not isinstance(item, dict | XComArg):
                    raise DagDefinitionError(
                        f"{name}.expand_kwargs(...) needs a list of dicts or a task's output; "
                        f"an item is {type(item).__name__}"
                    )
            if not value:
                raise DagDefinitionError(f"{name}.expand_kwargs(...) needs at least one dict")
            return cls(tuple(value))
        raise DagDefinitionError(
            f"{name}.expand_kwargs(...) needs a list of dicts or a task's output, "
            f"not {type(value).__name__}"
        )

    def references(self) -> Iterator[XComArg]:
        from taskstate.sdk.outputs import find_refs

        yield from find_refs(self.dicts if isinstance(self.dicts, XComArg) else list(self.dicts))

    @property
    def counted_task_ids(self) -> set[str]:
        return {self.dicts.task_id} if isinstance(self.dicts, XComArg) else set()

    @property
    def names(self) -> list[str]:
        if isinstance(self.dicts, XComArg):
            return []
        return sorted({k for d in self.dicts if isinstance(d, dict) for k in d})

    def _list(self, outputs: Outputs, task_id: str) -> Sequence[Any]:
        if not isinstance(self.dicts, XComArg):
            return self.dicts
        value = self.dicts.resolve(outputs)
        if not isinstance(value, list):
            kind = "None (it returned nothing)" if value is None else type(value).__name__
            raise UnmappableOutputError(
                f"{task_id}.expand_kwargs(...) maps over the output of {self.dicts!r}, "
                f"which is {kind}, not a list",
                detail={"task_id": task_id, "upstream": self.dicts.task_id, "type": kind},
            )
        return value

    def count(self, outputs: Outputs, *, task_id: str, max_length: int | None = None) -> int:
        count = len(self._list(outputs, task_id))
        if max_length is not None and count > max_length:
            raise UnmappableOutputError(
                f"{task_id}.expand_kwargs(...) would make {count} task instances, "
                f"more than [workers] max_map_length = {max_length}",
                detail={"task_id": task_id, "count": count, "max_map_length": max_length},
            )
        return count

    def values(self, map_index: int, outputs: Outputs, *, task_id: str) -> dict[str, Any]:
        items = self._list(outputs, task_id)
        self._check_index(map_index, len(items), task_id)
        item = resolve_refs(items[map_index], outputs)
        if not isinstance(item, dict) or not all(isinstance(k, str) for k in item):
            raise InvalidValueError(
                f"{task_id}.expand_kwargs(...): item {map_index} is {type(item).__name__}, "
                "not a dict of arguments",
                detail={"task_id": task_id, "map_index": map_index},
            )
        return item


class MappedArgument(Reference):
    """The argument ``name`` of a mapped task group's function: each instance's own value."""

    def __init__(self, expand_input: ExpandInput, name: str, group_id: str) -> None:
        self.expand_input = expand_input
        self.name = name
        self.group_id = group_id

    def __repr__(self) -> str:
        return f"<argument {self.name!r} of mapped task group {self.group_id!r}>"

    def __iter__(self) -> Iterator[Any]:
        from taskstate.sdk.outputs import not_iterable

        not_iterable(repr(self))

    def references(self) -> Iterator[XComArg]:
        yield from self.expand_input.references()

    def resolve_in(self, outputs: Outputs, map_index: int | None, group: Any) -> Any:
        if map_index is None:
            raise DagDefinitionError(f"{self!r} is used outside its task group")
        values = self.expand_input.values(map_index, outputs, task_id=self.group_id)
        if self.name not in values:
            raise InvalidValueError(
                f"{self!r}: the group's instance {map_index} has no argument {self.name!r}",
                detail={"group_id": self.group_id, "map_index": map_index},
            )
        return values[self.name]
