"""Mapped tasks (``expand``/``partial``): one task instance per value, each with its own
map_index and task state, retried on its own; downstream tasks wait for every instance
(tests/e2e/dags/mapped.py); a mapping over ``[workers] max_map_length`` fails its task
(tests/e2e/dags/map_limit.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from taskstate.errors import DagDefinitionError
from taskstate.sdk import DAG, task

from .conftest import DAGS

DAG_FILE = DAGS / "mapped.py"


@dataclass
class MappedRun:
    cli: Any
    run: Any


@pytest.fixture(scope="module")
def mapped(make_cli: Callable[..., Any]) -> MappedRun:
    cli = make_cli("mapped")
    return MappedRun(cli, cli.dags_test(DAG_FILE, "--run-id", "m1"))


@pytest.mark.e2e
def test_each_value_is_a_task_instance(mapped: MappedRun) -> None:
    run = mapped.run
    assert run.code == 1, str(run)  # fragile[1] fails
    assert run.summary() == {
        "start": ("success", 1),
        "square[0]": ("success", 1),
        "square[1]": ("success", 1),
        "square[2]": ("success", 2),
        "collect": ("success", 1),
        "add[0]": ("success", 1),
        "add[1]": ("success", 1),
        "add[2]": ("success", 1),
        "add[3]": ("success", 1),
        "fragile[0]": ("success", 1),
        "fragile[1]": ("failed", 1),
        "after_fragile": ("upstream_failed", 0),
    }, str(run)


@pytest.mark.e2e
def test_each_instance_gets_its_value_and_index(mapped: MappedRun) -> None:
    run = mapped.run
    assert "square map_index=0 try=1 x=1 -> 1" in run.lines("square[0]")
    assert "square map_index=1 try=1 x=2 -> 4" in run.lines("square[1]")
    assert "square map_index=2 try=2 x=3 -> 9" in run.lines("square[2]")
    # Several expanded arguments: their cross product, in order; partial() fixed the rest.
    assert [line for i in range(4) for line in run.lines(f"add[{i}]") if "=" in line] == [
        "add map_index=0: 1 + 10 + 100 = 111",
        "add map_index=1: 1 + 20 + 100 = 121",
        "add map_index=2: 2 + 10 + 100 = 112",
        "add map_index=3: 2 + 20 + 100 = 122",
    ]


@pytest.mark.e2e
def test_downstream_waits_for_every_instance(mapped: MappedRun) -> None:
    lines = mapped.run.stdout.splitlines()
    assert lines.index("collect | collect ran") > lines.index(
        "square[2] | [supervisor] try 2 succeeded"
    )
    assert mapped.run.lines("after_fragile") == ["[runner] skipped: an upstream task failed"]


@pytest.mark.e2e
def test_each_instance_has_its_own_task_state(mapped: MappedRun) -> None:
    entries = mapped.cli.task_state("e2e_mapped", "m1")
    assert sorted((e["task_id"], e["map_index"], e["key"], e["value"]) for e in entries) == [
        ("square", 0, "input", 1),
        ("square", 1, "input", 2),
        ("square", 2, "input", 3),
    ]


@pytest.fixture(scope="module")
def limited(make_cli: Callable[..., Any]) -> MappedRun:
    cli = make_cli("map_limit", {"TASKSTATE__WORKERS__MAX_MAP_LENGTH": "3"})
    return MappedRun(cli, cli.dags_test(DAGS / "map_limit.py", "--run-id", "l1"))


@pytest.mark.e2e
def test_a_mapping_over_max_map_length_fails_its_task_without_a_try(limited: MappedRun) -> None:
    run = limited.run
    assert run.code == 1, str(run)
    assert run.summary() == {
        "four_items": ("success", 1),
        "too_many": ("failed", 0),
        "after_too_many": ("upstream_failed", 0),
        "literal_too_many": ("failed", 0),
        "after_literal": ("upstream_failed", 0),
        "three_items": ("success", 1),
        "fits[0]": ("success", 1),
        "fits[1]": ("success", 1),
        "fits[2]": ("success", 1),
        "after_fits": ("success", 1),
    }, str(run)
    assert run.lines("too_many") == [
        "[runner] failed: UnmappableOutputError: too_many.expand(x=...) would make 4 task "
        "instances (4), more than [workers] max_map_length = 3"
    ]
    assert run.lines("literal_too_many") == [
        "[runner] failed: UnmappableOutputError: literal_too_many.expand(x=...) would make 4 "
        "task instances (4), more than [workers] max_map_length = 3"
    ]
    assert run.lines("after_too_many") == ["[runner] skipped: an upstream task failed"]
    assert "fits map_index=2 x=3" in run.lines("fits[2]")


def test_expand_refuses_what_it_cannot_map() -> None:
    with DAG("d", start_date=datetime(2026, 1, 1, tzinfo=UTC)):

        @task
        def f(x: int, y: int = 0) -> None: ...

        with pytest.raises(DagDefinitionError, match="at least one value"):
            f.expand(x=[])
        with pytest.raises(
            DagDefinitionError, match="needs a list of values or a task's output, not str"
        ):
            f.expand(x="abc")
        with pytest.raises(DagDefinitionError, match="at least one argument"):
            f.expand()
        with pytest.raises(DagDefinitionError, match="both partial"):
            f.partial(x=1).expand(x=[2])
        mapped = f.partial(y=5).expand(x=range(3))
    assert mapped.map_indices == [0, 1, 2]
    assert mapped.arguments_for(2, {}) == ((), {"y": 5, "x": 2})
    with pytest.raises(DagDefinitionError, match="no map index 3"):
        mapped.arguments_for(3, {})
