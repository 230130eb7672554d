"""Mapped tasks: over literal lists, over an upstream output, with ``partial``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from taskstate.errors import DagDefinitionError, UnmappableOutputError
from taskstate.sdk import DAG, task

START = datetime(2026, 1, 1, tzinfo=UTC)


@task
def tables() -> list[str]:
    return []


@task
def settings() -> dict[str, Any]:
    return {}


@task
def process(table: str, mode: str, factor: int = 1) -> None: ...


def test_a_task_mapped_over_an_output_has_a_placeholder_until_its_upstream_ran() -> None:
    with DAG("d", start_date=START):
        mapped = process.partial(factor=settings()["factor"]).expand(
            table=tables(), mode=["full", "delta"]
        )
    assert mapped.is_mapped and mapped.maps_over_outputs
    assert mapped.map_indices == [-1]
    assert mapped.upstream_task_ids == {"tables", "settings"}
    assert mapped.mapped_output_task_ids == {"tables"}
    assert mapped.output_task_ids == {"tables", "settings"}

    outputs = {"tables": ["a", "b", "c"], "settings": {"factor": 7}}
    assert mapped.map_count(outputs) == 6
    # The cross product in order: the last expanded argument varies fastest.
    assert [mapped.arguments_for(i, outputs)[1] for i in range(6)] == [
        {"factor": 7, "table": t, "mode": m} for t in "abc" for m in ("full", "delta")
    ]
    with pytest.raises(DagDefinitionError, match=r"no map index 6 \(it has 6 instances\)"):
        mapped.arguments_for(6, outputs)
    with pytest.raises(DagDefinitionError, match="no map index -1"):
        mapped.arguments_for(-1, outputs)
    assert mapped.map_count({"tables": []}) == 0


def test_literal_mapping_is_known_when_the_dag_is_parsed() -> None:
    with DAG("d", start_date=START):
        mapped = process.partial(mode="full").expand(table=["a", "b"], factor=[1, 2, 3])
    assert not mapped.maps_over_outputs
    assert mapped.map_indices == list(range(6))
    assert mapped.arguments_for(5, {}) == ((), {"mode": "full", "table": "b", "factor": 3})


def test_a_literal_list_may_hold_outputs() -> None:
    with DAG("d", start_date=START):
        mapped = process.partial(mode="m").expand(table=[tables()[0], "fixed"])
    assert mapped.map_indices == [0, 1]
    assert mapped.upstream_task_ids == {"tables"}
    assert mapped.arguments_for(0, {"tables": ["x", "y"]})[1]["table"] == "x"
    assert mapped.arguments_for(1, {"tables": ["x", "y"]})[1]["table"] == "fixed"


@pytest.mark.parametrize(
    ("output", "kind"),
    [
        ({"a": 1}, "dict"),
        ("abc", "str"),
        (3, "int"),
        (None, r"None \(it returned nothing\)"),
    ],
)
def test_an_output_that_is_not_a_list_cannot_be_mapped(output: Any, kind: str) -> None:
    with DAG("d", start_date=START):
        mapped = process.partial(mode="m").expand(table=tables())
    message = (
        rf"process.expand\(table=...\) maps over the output of tables\(\), which is {kind}, "
        "not a list"
    )
    with pytest.raises(UnmappableOutputError, match=message) as caught:
        mapped.map_count({"tables": output})
    assert caught.value.detail["task_id"] == "process"
    assert caught.value.detail["upstream"] == "tables"
    with pytest.raises(UnmappableOutputError):
        mapped.arguments_for(0, {"tables": output})


def test_a_mapping_over_max_length_instances_cannot_be_made() -> None:
    with DAG("d", start_date=START):
        mapped = process.partial(mode="m").expand(table=tables(), factor=[1, 2])
    outputs = {"tables": ["a", "b"]}
    assert mapped.map_count(outputs, max_length=4) == 4

    message = (
        r"process.expand\(table=..., factor=...\) would make 6 task instances \(3 x 2\), "
        r"more than \[workers\] max_map_length = 4"
    )
    with pytest.raises(UnmappableOutputError, match=message) as caught:
        mapped.map_count({"tables": ["a", "b", "c"]}, max_length=4)
    assert caught.value.detail == {"task_id": "process", "count": 6, "max_map_length": 4}
    # Counted, never built: a huge cross product is refused as cheaply as a small one.
    with DAG("d", start_date=START):
        listed = tables()
        crossed = process.partial(mode="m").expand(table=listed, factor=listed)
    huge = {"tables": list(range(500_000))}
    with pytest.raises(UnmappableOutputError, match="would make 250000000000 task instances"):
        crossed.map_count(huge, max_length=1024)


def test_a_literal_dict_maps_over_its_pairs() -> None:
    with DAG("d", start_date=START):
        mapped = process.partial(mode="m").expand(table={"a": 1, "b": 2})
    assert mapped.map_indices == [0, 1]
    assert mapped.arguments_for(1, {})[1] == {"mode": "m", "table": ("b", 2)}


def test_an_item_of_an_output_can_be_mapped_over() -> None:
    with DAG("d", start_date=START):
        mapped = process.partial(mode="m").expand(table=settings()["tables"])
    assert mapped.mapped_output_task_ids == {"settings"}
    assert mapped.map_count({"settings": {"tables": ["a", "b"]}}) == 2
    assert mapped.arguments_for(1, {"settings": {"tables": ["a", "b"]}})[1]["table"] == "b"
