"""Passing a task's output to another task: references, dependencies, items, resolution."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from taskstate.errors import DagDefinitionError, InvalidValueError
from taskstate.sdk import DAG, Task, XComArg, task
from taskstate.sdk.outputs import OutputRef, find_refs, resolve_refs

START = datetime(2026, 1, 1, tzinfo=UTC)


@task
def extract() -> dict[str, Any]:
    return {}


@task
def load(data: Any, rows: Any = None, extra: Any = None) -> None: ...


def test_an_output_passed_as_an_argument_is_a_reference_and_an_upstream() -> None:
    with DAG("d", start_date=START) as dag:
        source = extract()
        loaded = load(source, rows=source["rows"], extra={"all": [source, 1]})
    assert isinstance(source, Task)
    assert loaded.upstream_task_ids == {"extract"}
    assert source.downstream_task_ids == {"load"}
    [data] = loaded.op_args
    assert isinstance(data, OutputRef) and data.task is source and data.path == ()
    assert repr(loaded.op_kwargs["rows"]) == "extract()['rows']"
    assert loaded.output_task_ids == {"extract"}
    assert [t.task_id for t in dag.topological_order()] == ["extract", "load"]


def test_references_resolve_to_the_outputs_and_their_items() -> None:
    with DAG("d", start_date=START):
        source = extract()
        loaded = load(source, rows=source["rows"][1], extra=(source["name"], [source["rows"]]))
    outputs = {"extract": {"rows": [10, 20], "name": "db"}}
    args, kwargs = loaded.arguments_for(-1, outputs)
    assert args == ({"rows": [10, 20], "name": "db"},)
    assert kwargs == {"rows": 20, "extra": ("db", [[10, 20]])}
    assert [repr(r) for r in find_refs(loaded.op_kwargs)] == [
        "extract()['rows'][1]",
        "extract()['name']",
        "extract()['rows']",
    ]


@pytest.mark.parametrize(
    ("output", "path", "message"),
    [
        ({"rows": []}, ("missing",), r"extract\(\) is a dict of 1 items; it has no item 'missing'"),
        (
            {"rows": [1]},
            ("rows", 5),
            r"extract\(\)\['rows'\] is a list of 1 items; it has no item 5",
        ),
        ({"rows": [1]}, ("rows", "x"), "it has no item 'x'"),
        ([1, 2], ("rows",), "is a list of 2 items"),
        (None, (0,), r"extract\(\) is None; it has no item 0"),
        ("text", (0,), "is a str; it has no item 0"),
    ],
)
def test_an_item_that_is_not_there_is_an_invalid_value(
    output: Any, path: tuple[Any, ...], message: str
) -> None:
    with DAG("d", start_date=START):
        ref = OutputRef(extract())
    for key in path:
        ref = ref[key]
    with pytest.raises(InvalidValueError, match=message):
        ref.resolve({"extract": output})


def test_what_a_reference_cannot_be() -> None:
    with DAG("d", start_date=START):
        source = extract()
        with pytest.raises(DagDefinitionError, match=r"a dict key \(str\) or a list index \(int\)"):
            source[True]  # type: ignore[index]
        with pytest.raises(DagDefinitionError, match="cannot be iterated"):
            list(source)
        with pytest.raises(DagDefinitionError, match="cannot be iterated"):
            [*source["rows"]]
    with DAG("other", start_date=START), pytest.raises(DagDefinitionError, match="its own DAG"):
        load(source)


def test_values_without_references_are_left_alone() -> None:
    value = {"a": [1, (2, "x")], "b": None}
    assert list(find_refs(value)) == []
    assert resolve_refs(value, {}) == value


def test_a_called_task_has_its_operator_as_airflows_xcomarg_has() -> None:
    with DAG("d", start_date=START):
        source = extract()
        keyed = XComArg(source.operator, key="color")
        loaded = load(keyed)
    assert source.operator is source
    assert (keyed.task_id, keyed.key) == ("extract", "color")
    assert source in loaded.upstream_list
