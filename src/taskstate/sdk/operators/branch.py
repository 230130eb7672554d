"""Operators that choose which downstream tasks run: branches and short circuits.

They only decide; the runner skips. As in Airflow, the instance pushes its decision as the XCom
``skipmixin_key`` (``{"followed": [...]}`` from a branch, ``{"skipped": [...]}`` from a short
circuit) and, if it is unmapped and skips anything, raises :class:`DownstreamTasksSkipped`: the
try succeeds without storing a return value. Once it succeeded, the runner reads that XCom
through the public API and skips those downstream task instances that are still waiting:

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
from typing import TYPE_CHECKING, Any

from taskstate.sdk.exceptions import AirflowException, DownstreamTasksSkipped
from taskstate.sdk.operator import BaseOperator

if TYPE_CHECKING:
    from taskstate.sdk.dag import DAG
    from taskstate.sdk.node import AbstractOperator

__all__ = [
    "FOLLOWED",
    "SKIPPED",
    "SKIP_XCOM_KEY",
    "BaseBranchOperator",
    "BranchMixIn",
    "ShortCircuitMixIn",
    "SkipMixIn",
    "check_branches",
    "follow_branches",
    "short_circuit",
    "skips_downstream",
]

SKIP_XCOM_KEY = "skipmixin_key"
"""The XCom key of an instance's skip decision (Airflow's)."""
FOLLOWED = "followed"
"""A branch's decision: ``{"followed": [...]}``, its direct downstream tasks that run."""
SKIPPED = "skipped"
"""A short circuit's decision: ``{"skipped": [...]}``, the tasks it skips."""


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


def _decide(context: Mapping[str, Any], decision: dict[str, list[str]], skipped: set[str]) -> None:
    """Push ``decision`` for the runner; end an unmapped instance that skips tasks without a
    return value (a mapped instance keeps its return value, as in Airflow)."""
    ti = context["ti"]
    ti.xcom_push(SKIP_XCOM_KEY, decision)
    if skipped and ti.map_index < 0:
        raise DownstreamTasksSkipped(sorted(skipped))


def follow_branches(op: AbstractOperator, context: Mapping[str, Any], branches: Any) -> Any:
    """The branch rule: follow ``branches`` (task or task group ids), skip every other direct
    downstream task of ``op`` but one also downstream of a followed task (a join after an
    empty branch). Return ``branches`` as a JSON value, the output when nothing is skipped."""
    value = check_branches(op, branches)
    if not op.downstream_task_ids:
        return value
    dag = op.dag
    chosen: set[str] = set()
    for branch in _branch_ids(value):
        group = dag.task_group_dict.get(branch)
        chosen.update([t.task_id for t in group.roots] if group is not None else [branch])
    chosen |= _flat_downstream(dag, chosen & set(dag.tasks))
    followed = sorted(op.downstream_task_ids & chosen)
    _decide(context, {FOLLOWED: followed}, op.downstream_task_ids - chosen)
    return value


def short_circuit(op: AbstractOperator, context: Mapping[str, Any], condition: Any) -> Any:
    """The short-circuit rule: nothing when ``condition`` is truthy; else skip the tasks
    downstream of ``op`` (all of them, or the direct ones without
    ``ignore_downstream_trigger_rules``), teardowns aside. Return ``condition``, the output
    when nothing is skipped."""
    if condition or not op.downstream_task_ids:
        return condition
    dag = op.dag
    if getattr(op, "ignore_downstream_trigger_rules", True):
        candidates = _flat_downstream(dag, [op.task_id])
    else:
        candidates = set(op.downstream_task_ids)
    skipped = {t for t in candidates if not dag.tasks[t].is_teardown}
    if skipped:
        _decide(context, {SKIPPED: sorted(skipped)}, skipped)
    return condition


def skips_downstream(task: AbstractOperator) -> bool:
    """Whether ``task`` (mapped or not) is a branch or short circuit, whose instances may
    leave a skip decision."""
    return issubclass(getattr(task, "operator_class", type(task)), SkipMixIn)


class SkipMixIn:
    """An operator whose instances may skip tasks downstream (see the module docstring)."""


class BranchMixIn(SkipMixIn):
    """Marks an operator that follows the branch rule (:func:`follow_branches`)."""


class ShortCircuitMixIn(SkipMixIn):
    """Marks an operator that follows the short-circuit rule (:func:`short_circuit`)."""


class BaseBranchOperator(BranchMixIn, BaseOperator):
    """A branch: a subclass implements :meth:`choose_branch`, returning the task id(s) (or
    task group ids) to follow; every other direct downstream task is skipped."""

    def choose_branch(self, context: Mapping[str, Any]) -> str | Iterable[str] | None:
        raise NotImplementedError(f"{type(self).__name__} does not implement choose_branch()")

    def execute(self, context: Mapping[str, Any]) -> Any:
        branches = self.choose_branch(context)
        self.log.info("Branch into %s", branches)
        return follow_branches(self, context, branches)
