"""``chain``, ``chain_linear`` and ``cross_downstream``: many dependencies in one call."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

from taskstate.errors import DagDefinitionError
from taskstate.sdk.dependencies import DependencyMixin

__all__ = ["chain", "chain_linear", "cross_downstream"]


def chain(*tasks: Any) -> None:
    """Each argument runs after the one before it. Two adjacent lists are linked pairwise
    (``chain(a, [b, c], [d, e], f)``: b >> d, c >> e) and must have the same length; a list
    next to a single task links every item to it."""
    for up, down in itertools.pairwise(tasks):
        if isinstance(up, DependencyMixin):
            up.set_downstream(down)
            continue
        if isinstance(down, DependencyMixin):
            down.set_upstream(up)
            continue
        if not isinstance(up, Sequence) or not isinstance(down, Sequence):
            raise DagDefinitionError(
                f"chain() links tasks and lists of tasks, not {type(up).__name__} "
                f"and {type(down).__name__}"
            )
        if len(up) != len(down):
            raise DagDefinitionError(
                f"chain() links two adjacent lists pairwise; they must have the same length, "
                f"not {len(up)} and {len(down)}"
            )
        for up_task, down_task in zip(up, down, strict=True):
            up_task.set_downstream(down_task)


def chain_linear(*elements: Any) -> None:
    """Each argument (a task or a list) runs after every task of the one before it:
    ``chain_linear(a, [b, c], [d, e], f)`` makes a >> b, a >> c, b >> d, b >> e, c >> d, ..."""
    if not elements:
        raise DagDefinitionError("chain_linear() needs tasks to link")
    previous: Sequence[Any] | None = None
    linked = False
    for element in elements:
        if getattr(element, "is_edge_modifier", False):
            raise DagDefinitionError("chain_linear() does not take labels")
        if previous is not None:
            for task in previous:
                task >> element
                linked = True
        previous = [element] if isinstance(element, DependencyMixin) else element
    if not linked:
        raise DagDefinitionError(
            "chain_linear() set no dependency; did you forget to unpack a list with `*`?"
        )


def cross_downstream(from_tasks: Sequence[Any], to_tasks: Any) -> None:
    """Every task of ``to_tasks`` runs after every task of ``from_tasks``."""
    for task in from_tasks:
        task.set_downstream(to_tasks)
