"""``Label``: a name on a dependency edge. ``a >> Label("yes") >> b`` makes ``a >> b``.

A label remembers the nodes on each side and links them once both sides are known, in either
order (``b << Label("x") << a`` too). taskstate has no UI to show the name; it is only kept on
the label. When the two sides lie in different task groups, a task on the side given
first stands for its whole task group, as in Airflow, so the edge joins the groups.
"""

from __future__ import annotations

from typing import Any

from taskstate.sdk.dependencies import DependencyMixin, Relatives, as_nodes

__all__ = ["EdgeModifier", "Label"]


class EdgeModifier(DependencyMixin):
    """What ``Label(...)`` returns: an edge label between the nodes on either side."""

    is_edge_modifier = True

    def __init__(self, label: str | None = None) -> None:
        self.label = label
        self._upstream: list[DependencyMixin] = []
        self._downstream: list[DependencyMixin] = []

    def __repr__(self) -> str:
        return f"Label({self.label!r})"

    @property
    def roots(self) -> list[Any]:
        return [t for node in self._downstream for t in node.roots]

    @property
    def leaves(self) -> list[Any]:
        return [t for node in self._upstream for t in node.leaves]

    def set_upstream(self, other: Relatives, edge_modifier: Any = None) -> None:
        nodes = as_nodes(other)
        self._upstream.extend(nodes)
        self._to_task_groups()
        for node in self._downstream:
            node.set_upstream(nodes)

    def set_downstream(self, other: Relatives, edge_modifier: Any = None) -> None:
        nodes = as_nodes(other)
        self._downstream.extend(nodes)
        self._to_task_groups()
        for node in self._upstream:
            node.set_downstream(nodes)

    def _to_task_groups(self) -> None:
        """With both sides known and spanning several task groups, let each task stand for
        its (non-root) task group."""
        if not self._upstream or not self._downstream:
            return
        groups = {_group_key(node) for node in (*self._upstream, *self._downstream)}
        if len(groups) != 1:
            self._upstream = [_as_group(node) for node in self._upstream]
            self._downstream = [_as_group(node) for node in self._downstream]


def _group_key(node: DependencyMixin) -> str | None:
    from taskstate.sdk.node import AbstractOperator
    from taskstate.sdk.outputs import XComArg
    from taskstate.sdk.taskgroup import TaskGroup

    if isinstance(node, XComArg):
        node = node.operator
    if isinstance(node, AbstractOperator):
        group = node.task_group
        return None if group is None or group.is_root else group.group_id
    if isinstance(node, TaskGroup):
        return node.group_id
    return None


def _as_group(node: DependencyMixin) -> DependencyMixin:
    from taskstate.sdk.node import AbstractOperator

    if isinstance(node, AbstractOperator):
        group = node.task_group
        if group is not None and not group.is_root:
            return group
    return node


def Label(label: str) -> EdgeModifier:
    """An edge label: ``a >> Label("yes") >> b``."""
    return EdgeModifier(label)
