"""``>>`` and ``<<``: the order between tasks, task groups, outputs and edge labels.

Everything that can take part in a dependency is a :class:`DependencyMixin` and names the tasks
an edge attaches to: its ``roots`` (where an edge from upstream lands) and its ``leaves`` (where
an edge to downstream starts). A task is its own root and leaf; a task group's roots are its
tasks with no upstream inside it, its leaves those with no downstream inside it; an output
(``XComArg``) stands for its task. ``a >> b`` links every leaf of ``a`` to every root of ``b``,
and returns ``b`` so that chains read left to right; a list on either side links each item.

An edge label (``Label("x")``) is not a node: ``a >> Label("x") >> b`` just makes ``a >> b``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from taskstate.errors import DagDefinitionError

if TYPE_CHECKING:
    from taskstate.sdk.node import AbstractOperator

__all__ = ["DependencyMixin", "as_nodes", "link"]

Relatives = Any  # a DependencyMixin, or a list/tuple/set of them


class DependencyMixin:
    """Something ``>>`` and ``<<`` accept."""

    # Edge labels remember one side and link it once the other side is known.
    is_edge_modifier = False

    @property
    def roots(self) -> list[AbstractOperator]:
        """The tasks an edge from upstream lands on."""
        raise NotImplementedError

    @property
    def leaves(self) -> list[AbstractOperator]:
        """The tasks an edge to downstream starts from."""
        raise NotImplementedError

    def set_upstream(self, other: Relatives, edge_modifier: Any = None) -> None:
        """Make ``other`` (one, or a list) upstream of this."""
        for item in as_nodes(other):
            if item.is_edge_modifier:
                item.set_downstream(self)
                continue
            self._note_upstream(item)
            link(item.leaves, self.roots)

    def set_downstream(self, other: Relatives, edge_modifier: Any = None) -> None:
        """Make ``other`` (one, or a list) downstream of this."""
        for item in as_nodes(other):
            if item.is_edge_modifier:
                item.set_upstream(self)
                continue
            item._note_upstream(self)
            link(self.leaves, item.roots)

    def _note_upstream(self, other: DependencyMixin) -> None:
        """Hook: ``other`` was just made upstream of this (a task group keeps note)."""

    def __rshift__(self, other: Relatives) -> Any:
        """``self >> other``: ``other`` runs after this; returns ``other``."""
        self.set_downstream(other)
        return other

    def __lshift__(self, other: Relatives) -> Any:
        """``self << other``: ``other`` runs before this; returns ``other``."""
        self.set_upstream(other)
        return other

    def __rrshift__(self, other: Relatives) -> Any:
        """``[a, b] >> self``."""
        self.set_upstream(other)
        return self

    def __rlshift__(self, other: Relatives) -> Any:
        """``[a, b] << self``."""
        self.set_downstream(other)
        return self


def as_nodes(value: Relatives) -> list[DependencyMixin]:
    """``value`` as a list of dependency nodes: itself, or the items of a list/tuple/set."""
    if isinstance(value, DependencyMixin):
        return [value]
    if isinstance(value, list | tuple | set | frozenset):
        items: Iterable[Any] = value
    else:
        raise DagDefinitionError(
            "dependencies are set between tasks, task groups, outputs and labels (or lists "
            f"of them), not {type(value).__name__}: {value!r}"
        )
    nodes = list(items)
    for item in nodes:
        if not isinstance(item, DependencyMixin):
            raise DagDefinitionError(
                "dependencies are set between tasks, task groups, outputs and labels, not "
                f"{type(item).__name__}: {item!r}"
            )
    return nodes


def link(upstream: Iterable[AbstractOperator], downstream: Iterable[AbstractOperator]) -> None:
    """Make every task of ``downstream`` run after every task of ``upstream``."""
    downs = list(downstream)
    for up in upstream:
        for down in downs:
            up.add_downstream(down)
