"""``written_by``: the JSON text backends keep, and how people see it."""

from __future__ import annotations

import json

import pytest

from taskstate.state.provenance import API_WRITER, decode_writer, describe_writer, task_writer
from taskstate.state.types import TaskScope


def test_a_task_writer_names_the_task_instance_and_its_try() -> None:
    text = task_writer(TaskScope("d", "r:1", "t", 2), 3)
    assert json.loads(text) == {
        "dag_id": "d",
        "run_id": "r:1",
        "task_id": "t",
        "map_index": 2,
        "try_number": 3,
    }
    assert decode_writer(text) == json.loads(text)


def test_the_api_writer() -> None:
    assert json.loads(API_WRITER) == "api"
    assert decode_writer(API_WRITER) == "api"
    assert describe_writer("api") == "api"


@pytest.mark.parametrize("text", [None, "", "not json", "42", "[1, 2]", "null"])
def test_an_unknown_or_unreadable_writer_reads_as_none(text: str | None) -> None:
    assert decode_writer(text) is None
    assert describe_writer(decode_writer(text)) == ""


def test_described_for_people() -> None:
    unmapped = decode_writer(task_writer(TaskScope("etl", "r1", "load"), 1))
    assert describe_writer(unmapped) == "etl/r1/load try 1"
    mapped = decode_writer(task_writer(TaskScope("etl", "r1", "fan", 4), 2))
    assert describe_writer(mapped) == "etl/r1/fan[4] try 2"
