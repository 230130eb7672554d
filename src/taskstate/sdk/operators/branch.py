"""Operators that choose which downstream tasks run: branches and short circuits.

They only decide; the runner skips. Once such a task succeeds, the runner reads its output
(return value) and calls :meth:`downstream_to_skip` to learn which downstream task instances
to skip that are still waiting:

* a **branch** returns the task id(s) to follow (a str, a list, or None/[] for none); a task
  group id stands for the group's root tasks. Every direct downstream task not followed is
  skipped, except one that also lies downstream of a followed task (a join after an empty
  branch), as in Airflow.
* a **short circuit** returns a condition. Truthy: nothing is skipped. Falsy: every task
  downstream, however far, is skipped (``ignore_downstream_trigger_rules=True``, the default),
  or only the direct downstream tasks, leaving the others to their trigger rules; teardown
  tasks are never skipped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, cast

from taskstate.sdk.exceptions import AirflowException
from taskstate.sdk.operator import BaseOperator

if TYPE_CHECKING:
    from taskstate.sdk.dag import DAG
    from taskstate.sdk.node import AbstractOperator

__all__ = [
    "BaseBranchOperator",
    "BranchMixIn",
    "ShortCircuitMixIn",
    "branch_downstream_to_skip",
    "check_branches",
    "short_circuit_downstream_to_skip",
]


def _branch_ids(branches: Any) -> set[str]:
    if branches is None:
        return set()
    if isinstance(branches, str):
        return {branches}
    if isinstance(branches, Iterable) and not isinstance(branches, Mapping):
        ids = list(branches)
        invalid = sorted({type(b).__name__ for b in ids if not isinstance(b, str)})
        if invalid:
            raise AirflowException(
                f"a branch must return task ids (str); it returned items of type {invalid}"
            )
        return set(ids)
    raise AirflowException(
        "a branch must return None, a task id, or a list of task ids, "
        f"not {type(branches).__name__!r}"
    )


def _flat_downstream(dag: DAG, task_ids: Iterable[str]) -> set[str]:
    """Every task downstream of ``task_ids``, however far."""
    found: set[str] = set()
    todo = list(task_ids)
    while todo:
        for down in dag.tasks[todo.pop()].downstream_task_ids:
            if down not in found:
                found.add(down)
                todo.append(down)
    return found


def check_branches(op: AbstractOperator, branches: Any) -> Any:
    """Fail the try (AirflowException) unless ``branches`` names tasks or task groups of
    ``op``'s DAG; return them as a JSON value (the task's output)."""
    is_generator = isinstance(branches, Iterable) and not isinstance(
        branches, str | list | tuple | set | frozenset | Mapping
    )
    if is_generator:
        branches = list(branches)
    unknown = sorted(b for b in _branch_ids(branches) if b not in op.dag.used_ids)
    if unknown:
        raise AirflowException(
            f"'branch_task_ids' must contain only valid task_ids. Invalid tasks found: {unknown}"
        )
    if isinstance(branches, str) or branches is None or isinstance(branches, list):
        return branches
    if isinstance(branches, set | frozenset):
        return sorted(branches)
    return list(branches)


def branch_downstream_to_skip(op: AbstractOperator, output: Any) -> set[str]:
    """The branch rule: the direct downstream tasks of ``op`` that ``output`` does not follow."""
    dag = op.dag
    followed: set[str] = set()
    for branch in _branch_ids(output):
        group = dag.task_group_dict.get(branch)
        if group is not None:
            followed.update(t.task_id for t in group.roots)
        elif branch in dag.tasks:
            followed.add(branch)
    # A downstream task reached through a followed one (a join) is followed too.
    followed |= _flat_downstream(dag, followed)
    return {t for t in op.downstream_task_ids if t not in followed}


def short_circuit_downstream_to_skip(
    op: AbstractOperator, output: Any, *, ignore_downstream_trigger_rules: bool
) -> set[str]:
    """The short-circuit rule: nothing when ``output`` is truthy; else the tasks downstream
    of ``op`` (all of them, or the direct ones), teardowns aside."""
    if output:
        return set()
    dag = op.dag
    if ignore_downstream_trigger_rules:
        candidates = _flat_downstream(dag, [op.task_id])
    else:
        candidates = set(op.downstream_task_ids)
    return {t for t in candidates if not dag.tasks[t].is_teardown}


class BranchMixIn:
    """Gives an operator the branch rule."""

    def downstream_to_skip(self, output: Any) -> set[str] | None:
        return branch_downstream_to_skip(cast("AbstractOperator", self), output)


class ShortCircuitMixIn:
    """Gives an operator the short-circuit rule (``ignore_downstream_trigger_rules``)."""

    def downstream_to_skip(self, output: Any) -> set[str] | None:
        ignore = bool(getattr(self, "ignore_downstream_trigger_rules", True))
        return short_circuit_downstream_to_skip(
            cast("AbstractOperator", self), output, ignore_downstream_trigger_rules=ignore
        )


class BaseBranchOperator(BranchMixIn, BaseOperator):
    """A branch: a subclass implements :meth:`choose_branch`, returning the task id(s) (or
    task group ids) to follow; every other direct downstream task is skipped."""

    def choose_branch(self, context: Mapping[str, Any]) -> str | Iterable[str] | None:
        raise NotImplementedError(f"{type(self).__name__} does not implement choose_branch()")

    def execute(self, context: Mapping[str, Any]) -> Any:
        branches = self.choose_branch(context)
        self.log.info("Branch into %s", branches)
        return check_branches(self, branches)
