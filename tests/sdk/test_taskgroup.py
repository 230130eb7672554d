"""Task groups: ids, default_args, dependencies on whole groups, ``@task_group``, mapped groups."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from taskstate.errors import DagDefinitionError, UnsupportedFeatureError
from taskstate.sdk import DAG, BashOperator, EmptyOperator, TaskGroup, task, task_group
from taskstate.sdk.expand import MappedArgument

START = datetime(2026, 1, 1, tzinfo=UTC)


@task
def add(x: int, y: int = 0) -> int:
    return x + y


def test_ids_are_prefixed_unless_the_group_says_not() -> None:
    with DAG("d", start_date=START) as dag:
        with TaskGroup("outer") as outer:
            EmptyOperator(task_id="a")
            with TaskGroup("inner") as inner:
                EmptyOperator(task_id="b")
                add(1)
                add(2)
            with TaskGroup("flat", prefix_group_id=False):
                EmptyOperator(task_id="c")
        with pytest.raises(DagDefinitionError, match="already has a task or task group 'outer'"):
            TaskGroup("outer")
        with pytest.raises(DagDefinitionError, match="group_id must be"):
            TaskGroup("no.dots")
    expected = {"outer.a", "outer.inner.b", "outer.inner.add", "outer.inner.add__1", "c"}
    assert set(dag.tasks) == expected
    assert inner.group_id == "outer.inner" and outer["inner"] is inner
    assert set(dag.task_group_dict) == {"outer", "outer.inner", "outer.flat"}
    assert [t.task_id for t in inner] == ["outer.inner.b", "outer.inner.add", "outer.inner.add__1"]
    with pytest.raises(DagDefinitionError, match="outside a DAG"):
        TaskGroup("lost")


def test_dependencies_on_groups_attach_to_their_roots_and_leaves() -> None:
    with DAG("d", start_date=START) as dag:
        start = EmptyOperator(task_id="start")
        with TaskGroup("g") as g:
            a = EmptyOperator(task_id="a")
            b = EmptyOperator(task_id="b")
            c = EmptyOperator(task_id="c")
            a >> c
        with TaskGroup("h") as h:
            EmptyOperator(task_id="x")
        end = EmptyOperator(task_id="end")
        start >> g >> h
        [g, h] >> end
        with TaskGroup("empty") as empty:
            pass
        after = EmptyOperator(task_id="after")
        end >> empty >> after
    assert {t.task_id for t in g.roots} == {"g.a", "g.b"}
    assert {t.task_id for t in g.leaves} == {"g.b", "g.c"}
    assert a.upstream_task_ids == b.upstream_task_ids == {"start"}
    assert dag.tasks["h.x"].upstream_task_ids == {"g.b", "g.c"}
    assert end.upstream_task_ids == {"g.b", "g.c", "h.x"}
    assert after.upstream_task_ids == {"end"}  # an empty group passes its upstream on


def test_a_teardown_at_the_end_of_a_group_is_passed_over_for_its_leaves() -> None:
    with DAG("d", start_date=START):
        with TaskGroup("g") as g:
            up = EmptyOperator(task_id="up").as_setup()
            work = EmptyOperator(task_id="work")
            down = EmptyOperator(task_id="down").as_teardown(setups=up)
            up >> work >> down
        after = EmptyOperator(task_id="after")
        g >> after
    assert [t.task_id for t in g.leaves] == ["g.work"]
    assert after.upstream_task_ids == {"g.work"}


def test_task_group_functions() -> None:
    @task_group
    def returns_last(x: int) -> Any:
        """Doc of the group."""
        return add(add(x))

    @task_group(group_id="named", default_args={"retries": 4}, tooltip="tip")
    def returns_nothing() -> None:
        add(1)

    with DAG("d", start_date=START) as dag:
        last = returns_last(1)
        again = returns_last(2)
        group = returns_nothing()
        renamed = returns_last.override(group_id="renamed")(3)
    assert last.task_id == "returns_last.add__1" and again.task_id == "returns_last__1.add__1"
    assert isinstance(group, TaskGroup) and group.group_id == "named" and group.tooltip == "tip"
    assert dag.tasks["named.add"].retries == 4
    assert renamed.task_id == "renamed.add__1"
    assert dag.task_group_dict["returns_last"].tooltip == "Doc of the group."
    with pytest.raises(DagDefinitionError, match="unknown @task_group argument"):
        task_group(group_idd="x")(lambda: None)


def test_a_mapped_task_group_maps_every_task_inside_with_the_same_indices() -> None:
    @task
    def numbers() -> list[int]:
        return [1, 2, 3]

    @task
    def total(values: list[int]) -> int:
        return sum(values)

    @task_group
    def per_number(x: int, y: int) -> Any:
        first = add(x, y)
        echo = BashOperator(task_id="echo", bash_command=x)
        first >> echo
        return add(first)

    with DAG("d", start_date=START) as dag:
        nums = numbers()
        last = per_number.partial(y=10).expand(x=nums)
        counted = total(last)
        per_number.override(group_id="literal").expand_kwargs([{"x": 1, "y": 2}])
    literal = dag.tasks["literal.add"]
    first, echo = dag.tasks["per_number.add"], dag.tasks["per_number.echo"]
    for op in (first, echo, last):
        assert op.is_mapped and op.maps_over_outputs and op.map_indices == [-1]
        assert op.mapped_output_task_ids == {"numbers"}
    assert first.upstream_task_ids == {"numbers"}
    assert last.upstream_task_ids == {"per_number.add"}
    assert counted.upstream_task_ids == {"per_number.add__1"} and not counted.is_mapped
    assert literal.map_indices == [0]
    assert isinstance(first.op_args[0], MappedArgument)  # type: ignore[attr-defined]

    outputs = {"numbers": [1, 2, 3]}
    assert first.map_count(outputs) == 3
    # Each instance receives its own value of the group's argument ...
    assert first.prepare(1, outputs).op_args == (2, 10)  # type: ignore[attr-defined]
    assert echo.prepare(2, outputs).bash_command == 3  # type: ignore[attr-defined]
    # ... and the output of an in-group task for the same map index, not the list.
    in_group = {**outputs, "per_number.add": [11, 12, 13]}
    assert last.prepare(1, in_group).op_args == (12,)  # type: ignore[attr-defined]
    # From outside the group, the list of every instance's output.
    assert counted.prepare(-1, {"per_number.add__1": [1, 2]}).op_args == ([1, 2],)  # type: ignore[attr-defined]
    assert literal.prepare(0, {}).op_args == (1, 2)  # type: ignore[attr-defined]
    with pytest.raises(DagDefinitionError, match="has no map index 3"):
        first.prepare(3, outputs)


def test_what_a_mapped_task_group_refuses() -> None:
    @task_group
    def nested_mapping(x: int) -> None:
        add.expand(x=[1, 2])

    @task_group
    def inner(x: int) -> None:
        add(x)

    @task_group
    def outer(x: int) -> None:
        inner.expand(x=[1])

    with DAG("d", start_date=START):
        with pytest.raises(
            UnsupportedFeatureError, match="a mapped task inside a mapped task group"
        ):
            nested_mapping.expand(x=[1])
        with pytest.raises(UnsupportedFeatureError, match="mapped task group inside a mapped"):
            outer.expand(x=[1])
        with pytest.raises(DagDefinitionError, match="on task context variable"):
            inner.expand(ti=[1])
