"""``>>`` with lists, outputs and labels; ``chain``, ``chain_linear``, ``cross_downstream``."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from taskstate.errors import DagDefinitionError
from taskstate.sdk import (
    DAG,
    EmptyOperator,
    Label,
    TaskGroup,
    chain,
    chain_linear,
    cross_downstream,
    task,
)

START = datetime(2026, 1, 1, tzinfo=UTC)


def ups(dag: DAG) -> dict[str, set[str]]:
    return {tid: t.upstream_task_ids for tid, t in dag.tasks.items() if t.upstream_task_ids}


def ops(*names: str) -> list[EmptyOperator]:
    return [EmptyOperator(task_id=n) for n in names]


def test_shift_operators_return_the_right_side() -> None:
    @task
    def made() -> int:
        return 1

    with DAG("d", start_date=START) as dag:
        a, b, c = ops("a", "b", "c")
        out = made()
        assert (a >> [b, c]) == [b, c]
        assert ([b, c] >> out) is out
        assert (a.output >> EmptyOperator(task_id="d")).task_id == "d"
        c << EmptyOperator(task_id="e")
        with pytest.raises(DagDefinitionError, match="not int"):
            a >> 3  # type: ignore[operator]
        with pytest.raises(DagDefinitionError, match="cannot depend on itself"):
            a >> a
    assert ups(dag) == {"b": {"a"}, "c": {"a", "e"}, "made": {"b", "c"}, "d": {"a"}}


def test_chain_links_in_order_and_lists_pairwise() -> None:
    with DAG("d", start_date=START) as dag:
        a, b, c, d, e, f = ops("a", "b", "c", "d", "e", "f")
        chain(a, [b, c], [d, e], f)
        with pytest.raises(DagDefinitionError, match="same length, not 2 and 1"):
            chain([a, b], [c])
    assert ups(dag) == {"b": {"a"}, "c": {"a"}, "d": {"b"}, "e": {"c"}, "f": {"d", "e"}}


def test_chain_linear_and_cross_downstream_link_every_pair() -> None:
    with DAG("d", start_date=START) as dag:
        a, b, c, d, e, f = ops("a", "b", "c", "d", "e", "f")
        chain_linear(a, [b, c], [d, e], f)
        x, y = ops("x", "y")
        cross_downstream([x, y], [d, e])
        with pytest.raises(DagDefinitionError, match="set no dependency"):
            chain_linear([a, b])
        with pytest.raises(DagDefinitionError, match="labels"):
            chain_linear(a, Label("no"), b)
    assert ups(dag) == {
        "b": {"a"},
        "c": {"a"},
        "d": {"b", "c", "x", "y"},
        "e": {"b", "c", "x", "y"},
        "f": {"d", "e"},
    }


def test_a_label_just_makes_the_dependency() -> None:
    with DAG("d", start_date=START) as dag:
        a, b, c, d, e = ops("a", "b", "c", "d", "e")
        a >> Label("yes") >> [b, c]
        d << Label("back") << e
        chain(a, Label("chained"), e)
    assert ups(dag) == {"b": {"a"}, "c": {"a"}, "d": {"e"}, "e": {"a"}}


def test_a_label_across_task_groups_joins_the_groups() -> None:
    with DAG("d", start_date=START) as dag:
        with TaskGroup("g"):
            g1, g2 = ops("g1", "g2")
        with TaskGroup("h"):
            h1, h2 = ops("h1", "h2")
        g1 >> Label("x") >> h1
        plain = EmptyOperator(task_id="plain")
        g2 >> plain  # no label: only the task itself
    # As in Airflow: the task given first stands for its whole group.
    assert h1.upstream_task_ids == {"g.g1", "g.g2"}
    assert h2.upstream_task_ids == set() and plain.upstream_task_ids == {"g.g2"}
    assert "g.g2" in dag.tasks
