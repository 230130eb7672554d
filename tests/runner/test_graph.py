"""What the scheduler derives from a DAG: setups, teardown scopes, and the leaves that decide the
run's state, as Airflow 3.3.2 derives them (``airflow/_shared/dagnode/node.py``'s relevant
setups, ``trigger_rule_dep.py``'s teardown scope, ``dagrun.py``'s ``_tis_for_dagrun_state``)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from taskstate.errors import DagDefinitionError
from taskstate.runner.graph import TaskGraph, run_state


def dag(edges: str, **attributes: dict[str, Any]) -> TaskGraph:
    """A graph from ``"a>b b>c"`` (``>``: upstream on the left); ``name={...}`` sets attributes
    of a task (``setup=True`` and ``teardown=True`` for short)."""
    names: list[str] = []
    pairs = [tuple(edge.split(">")) for edge in edges.split()]
    for pair in pairs:
        names.extend(n for n in pair if n not in names)
    names.extend(n for n in attributes if n not in names)
    tasks = {
        n: SimpleNamespace(task_id=n, upstream_task_ids=set(), downstream_task_ids=set())
        for n in names
    }
    for up, down in pairs:
        tasks[up].downstream_task_ids.add(down)
        tasks[down].upstream_task_ids.add(up)
    for name, values in attributes.items():
        for attr, value in values.items():
            attr = {"setup": "is_setup", "teardown": "is_teardown"}.get(attr, attr)
            setattr(tasks[name], attr, value)
    order: list[Any] = []
    while len(order) < len(tasks):
        order.extend(
            t
            for t in tasks.values()
            if t not in order and all(tasks[u] in order for u in t.upstream_task_ids)
        )
    return TaskGraph(order)


SETUP = {"setup": True}
TEARDOWN = {"teardown": True, "trigger_rule": "all_done_setup_success"}


def test_defaults_of_a_plain_task() -> None:
    node = dag("a>b")["b"]
    assert (node.trigger_rule, node.is_setup, node.is_teardown, node.on_failure_fail_dagrun) == (
        "all_success",
        False,
        False,
        False,
    )
    assert node.ancestors == {"a"} and dag("a>b")["a"].descendants == {"b"}


def test_a_trigger_rule_given_as_an_enum_is_read_by_value() -> None:
    class Rule:
        value = "one_success"

    assert dag("a>b", b={"trigger_rule": Rule()})["b"].trigger_rule == "one_success"


def test_an_unknown_trigger_rule_is_refused() -> None:
    with pytest.raises(DagDefinitionError, match="task 'b' has trigger rule 'sometimes'"):
        dag("a>b", b={"trigger_rule": "sometimes"})


def test_indirect_setups_are_those_whose_teardown_comes_after_the_task() -> None:
    # s >> w1 >> w2 >> t, t tears s down: w2 waits for s, as an indirect setup.
    graph = dag("s>w1 w1>w2 w2>t s>t", s=SETUP, t=TEARDOWN)
    assert graph["w1"].indirect_setups == set()  # s is its direct upstream
    assert graph["w2"].indirect_setups == {"s"}
    assert graph["t"].indirect_setups == set()  # a teardown has none


def test_a_setup_without_teardown_concerns_everything_after_it() -> None:
    graph = dag("s>w1 w1>w2", s=SETUP)
    assert graph["w2"].indirect_setups == {"s"}


def test_a_setup_torn_down_before_the_task_does_not_concern_it() -> None:
    # s >> w >> t >> after: after comes once s is torn down.
    graph = dag("s>w w>t s>t t>after", s=SETUP, t=TEARDOWN)
    assert graph["after"].indirect_setups == set()


def test_a_teardown_waits_for_the_work_between_its_setups_and_itself() -> None:
    graph = dag("s>w1 w1>w2 w2>t s>t x>w2", s=SETUP, t=TEARDOWN)
    # Its direct upstream (s, w2) are waited for anyway; w1 is in scope, x (not after s) is not.
    assert graph["t"].teardown_scope == {"w1"}
    assert graph["w2"].teardown_scope == set()


def test_leaves_skip_teardowns_unless_they_fail_the_run() -> None:
    assert dag("s>w w>t s>t", s=SETUP, t=TEARDOWN).leaves == {"w"}
    failing = {**TEARDOWN, "on_failure_fail_dagrun": True}
    assert dag("s>w w>t s>t", s=SETUP, t=failing).leaves == {"t"}
    # A task after a teardown is a leaf, and the teardown is not; the work before the
    # teardown still is (its only downstream task is the teardown).
    assert dag("s>w w>t s>t t>after", s=SETUP, t=TEARDOWN).leaves == {"w", "after"}
    # A setup with nothing but its teardown after it is a leaf.
    assert dag("s>t", s=SETUP, t=TEARDOWN).leaves == {"s"}
    assert dag("a>b a>c").leaves == {"b", "c"}


def test_a_dag_of_teardowns_only_is_decided_by_its_last_tasks() -> None:
    assert dag("t1>t2", t1=TEARDOWN, t2=TEARDOWN).leaves == {"t2"}


def test_the_run_fails_when_a_leaf_instance_failed_or_is_upstream_failed() -> None:
    graph = dag("a>b a>c")
    assert run_state(graph, {"a": ["success"], "b": ["success"], "c": ["skipped"]}) == "success"
    # Only leaves count: a failure upstream that a leaf got past does not fail the run.
    assert run_state(graph, {"a": ["failed"], "b": ["success"], "c": ["skipped"]}) == "success"
    assert run_state(graph, {"a": ["success"], "b": ["success"], "c": ["upstream_failed"]}) == (
        "failed"
    )
    assert run_state(graph, {"a": ["success"], "b": ["success", "failed"], "c": ["success"]}) == (
        "failed"
    )


def test_a_failed_teardown_fails_the_run_only_with_on_failure_fail_dagrun() -> None:
    states = {"s": ["success"], "w": ["success"], "t": ["failed"]}
    assert run_state(dag("s>w w>t s>t", s=SETUP, t=TEARDOWN), states) == "success"
    failing = {**TEARDOWN, "on_failure_fail_dagrun": True}
    assert run_state(dag("s>w w>t s>t", s=SETUP, t=failing), states) == "failed"
    work_failed = {"s": ["success"], "w": ["failed"], "t": ["success"]}
    assert run_state(dag("s>w w>t s>t", s=SETUP, t=TEARDOWN), work_failed) == "failed"
