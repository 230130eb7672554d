"""The DAG as the scheduler sees it: each task's rule, relatives, setups and teardown scope,
and which tasks decide the run's state.

Built once per run from the operators' attributes, read with getattr so that any object with
``task_id``, ``upstream_task_ids`` and ``downstream_task_ids`` is a task; the defaults are
those of a plain task: ``trigger_rule="all_success"``, not a setup, not a teardown, no
``on_failure_fail_dagrun``, not mapped over outputs.

Setups and teardowns follow Apache Airflow 3.3.2:

- A teardown's setups are its direct upstream setup tasks. Its *scope* is every task that is
  both downstream of one of those setups and upstream of the teardown (not directly): the
  teardown also waits for those to finish.
- A task's *relevant* setups are the setup tasks upstream of it that have no teardown, or have
  a teardown downstream of the task. Those that are not its direct upstream tasks are its
  *indirect* setups: it runs only once they have succeeded (see ``trigger_rules.decide``).
- The run's state is decided by its *leaves*: the tasks with no downstream task but teardowns
  (teardowns themselves are not leaves), where a teardown with ``on_failure_fail_dagrun``
  counts as an ordinary task. So a failed teardown does not fail the run, unless it has
  ``on_failure_fail_dagrun``; the work before it counts instead.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from taskstate.errors import DagDefinitionError
from taskstate.runner.trigger_rules import TRIGGER_RULES

__all__ = ["Node", "TaskGraph", "run_state"]

_FAILED = frozenset({"failed", "upstream_failed"})


@dataclass(frozen=True)
class Node:
    """One task, as scheduling needs it."""

    task_id: str
    upstream: frozenset[str]
    downstream: frozenset[str]
    trigger_rule: str
    is_setup: bool
    is_teardown: bool
    on_failure_fail_dagrun: bool
    # The tasks whose outputs decide how many instances it has (it is mapped over them).
    mapped_dependencies: frozenset[str]
    # Every task upstream of it, directly or not, and every task downstream of it.
    ancestors: frozenset[str] = frozenset()
    descendants: frozenset[str] = frozenset()
    # Setups it waits for beyond its direct upstream tasks (never a teardown's).
    indirect_setups: frozenset[str] = frozenset()
    # A teardown's: the tasks between its setups and itself.
    teardown_scope: frozenset[str] = frozenset()


def _node(task: Any) -> Node:
    rule = getattr(task, "trigger_rule", "all_success")
    rule = str(getattr(rule, "value", rule))
    if rule not in TRIGGER_RULES:
        raise DagDefinitionError(
            f"task {task.task_id!r} has trigger rule {rule!r}; expected one of "
            f"{', '.join(sorted(TRIGGER_RULES))}",
            detail={"task_id": task.task_id, "trigger_rule": rule},
        )
    return Node(
        task_id=task.task_id,
        upstream=frozenset(task.upstream_task_ids),
        downstream=frozenset(task.downstream_task_ids),
        trigger_rule=rule,
        is_setup=bool(getattr(task, "is_setup", False)),
        is_teardown=bool(getattr(task, "is_teardown", False)),
        on_failure_fail_dagrun=bool(getattr(task, "on_failure_fail_dagrun", False)),
        mapped_dependencies=frozenset(getattr(task, "mapped_output_task_ids", ())),
    )


class TaskGraph:
    """The tasks of a DAG in topological order, with what the scheduler derives from them."""

    def __init__(self, tasks: Sequence[Any]) -> None:
        """``tasks``: every task of the DAG, each after its upstream tasks."""
        plain = {t.task_id: _node(t) for t in tasks}
        ancestors: dict[str, frozenset[str]] = {}
        for node in plain.values():  # in topological order, so upstream ancestors are known
            found = set(node.upstream)
            for up in node.upstream:
                found |= ancestors[up]
            ancestors[node.task_id] = frozenset(found)
        descendants: dict[str, set[str]] = {task_id: set() for task_id in plain}
        for task_id, ups in ancestors.items():
            for up in ups:
                descendants[up].add(task_id)
        self.nodes: dict[str, Node] = {}
        for task_id, node in plain.items():
            scope: frozenset[str] = frozenset()
            indirect: frozenset[str] = frozenset()
            if node.is_teardown:
                setups = [up for up in node.upstream if plain[up].is_setup]
                between = ancestors[task_id] - node.upstream
                scope = frozenset(t for s in setups for t in descendants[s] & between)
            else:
                indirect = frozenset(
                    s
                    for s in ancestors[task_id] - node.upstream
                    if plain[s].is_setup and _relevant_setup(plain, s, descendants[task_id])
                )
            self.nodes[task_id] = replace(
                node,
                ancestors=ancestors[task_id],
                descendants=frozenset(descendants[task_id]),
                indirect_setups=indirect,
                teardown_scope=scope,
            )
        self.leaves = _leaves(self.nodes)

    def __getitem__(self, task_id: str) -> Node:
        return self.nodes[task_id]

    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes.values())


def _relevant_setup(nodes: Mapping[str, Node], setup: str, below: set[str]) -> bool:
    """Whether ``setup`` concerns a task whose descendants are ``below``: it has no teardown,
    or one of its teardowns is downstream of the task."""
    teardowns = {t for t in nodes[setup].downstream if nodes[t].is_teardown}
    return not teardowns or bool(teardowns & below)


def _leaves(nodes: Mapping[str, Node]) -> frozenset[str]:
    """The tasks whose instances decide the run's state."""

    def ignorable(task_id: str) -> bool:
        node = nodes[task_id]
        return node.is_teardown and not node.on_failure_fail_dagrun

    leaves = frozenset(
        n.task_id
        for n in nodes.values()
        if not ignorable(n.task_id) and all(ignorable(d) for d in n.downstream)
    )
    # A DAG of nothing but teardowns: its last tasks decide.
    return leaves or frozenset(n.task_id for n in nodes.values() if not n.downstream)


def run_state(graph: TaskGraph, states: Mapping[str, Sequence[str]]) -> str:
    """``failed`` if an instance of a leaf task failed or is upstream_failed, else ``success``
    (every instance has finished; skipped leaves count as succeeded).

    ``states``: the states of each task's instances, by task id.
    """
    for task_id in graph.leaves:
        if any(state in _FAILED for state in states.get(task_id, ())):
            return "failed"
    return "success"
