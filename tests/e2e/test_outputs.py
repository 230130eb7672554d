"""Data between tasks and tasks mapped over it, through real runs of ``taskstate dags test``:
the example ``examples/mapped_tables.py`` and the DAGs ``tests/e2e/dags/outputs.py`` and
``tests/e2e/dags/bad_outputs.py``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgspec
import pytest

from taskstate.client.execution import ExecutionClient
from taskstate.errors import PermissionDeniedError

from .conftest import DAGS, EXAMPLES, Cli, Result, Row

pytestmark = pytest.mark.e2e


@dataclass
class Runs:
    cli: Cli
    runs: dict[str, Result]


def by_index(entries: list[dict[str, Any]]) -> dict[int, dict[str, Any]]:
    """Task state entries as {map_index: {key: value}}."""
    found: dict[int, dict[str, Any]] = {}
    for entry in entries:
        found.setdefault(entry["map_index"], {})[entry["key"]] = entry["value"]
    return found


# -- the example: get_tables() -> process_table.expand(table=...) -> summarize(...) ----------


@pytest.fixture(scope="module")
def tables(make_cli: Callable[..., Cli]) -> Runs:
    cli = make_cli("mapped_tables")
    runs = {
        run_id: cli.dags_test(EXAMPLES / "mapped_tables.py", "--run-id", run_id)
        for run_id in ("t1", "t2")
    }
    return Runs(cli, runs)


def test_each_mapped_instance_keeps_its_own_status_and_result(tables: Runs) -> None:
    run = tables.runs["t1"]
    assert run.code == 0, str(run)
    assert run.summary() == {
        "get_tables": Row("success", 1),
        "process_table[0]": Row("success", 1),
        "process_table[1]": Row("success", 1),
        "process_table[2]": Row("success", 1),
        "summarize": Row("success", 1),
    }, str(run)
    assert run.lines("process_table") == ["[runner] mapped into 3 task instances"]
    assert "3 tables, 8070 rows in all" in run.lines("summarize")

    listed = tables.cli.run(
        "state", "list", "--dag-id", "mapped_tables", "--run-id", "t1", "--task-id",
        "process_table", "--json",
    ).json()  # fmt: skip
    assert by_index(listed) == {
        0: {"status": "done", "result": {"table": "customers", "rows": 120}},
        1: {"status": "done", "result": {"table": "orders", "rows": 4800}},
        2: {"status": "done", "result": {"table": "payments", "rows": 3150}},
    }


def test_clear_all_map_indices_clears_every_instance(tables: Runs) -> None:
    task = ("--dag-id", "mapped_tables", "--task-id", "process_table")
    one = tables.cli.run("state", "clear", *task, "--run-id", "t1", "--map-index", "1")
    assert one.code == 0, str(one)
    assert sorted(by_index(tables.cli.task_state("mapped_tables", "t1"))) == [0, 2]

    cleared = tables.cli.run("state", "clear", *task, "--run-id", "t1", "--all-map-indices")
    assert (cleared.code, cleared.stdout.strip()) == (0, "cleared mapped_tables/t1/process_table")
    assert tables.cli.task_state("mapped_tables", "t1") == []
    # The other run is untouched, until the public API clears it too.
    assert sorted(by_index(tables.cli.task_state("mapped_tables", "t2"))) == [0, 1, 2]
    with tables.cli.api() as public:
        public.clear_task_state("mapped_tables", "t2", "process_table", all_map_indices=True)
    assert tables.cli.task_state("mapped_tables", "t2") == []


def test_outputs_of_another_run_are_refused_at_the_api(tables: Runs) -> None:
    with tables.cli.api() as public:
        assert public.get_task_output("mapped_tables", "t1", "process_table") == [120, 4800, 3150]
        probe = public.create_run(
            {"dag_id": "mapped_tables", "run_id": "probe", "tasks": [{"task_id": "get_tables"}]}
        )
        ti_id = probe["task_instances"][0]["id"]
        client = ExecutionClient(public.base_url, public.queue_task_instance(ti_id)["token"])
        try:
            with pytest.raises(PermissionDeniedError, match="cannot read outputs of run 't1'"):
                client.get_task_output("mapped_tables", "t1", "get_tables")
            # Its own run's task has not run yet: no output.
            own = client.get_task_output("mapped_tables", "probe", "get_tables")
            assert own.value is msgspec.UNSET
        finally:
            client.close()


# -- outputs passed on, partial and literal lists, empty mappings, retries ----------------------


@pytest.fixture(scope="module")
def outputs(make_cli: Callable[..., Cli]) -> Runs:
    cli = make_cli("outputs")
    return Runs(cli, {"o1": cli.dags_test(DAGS / "outputs.py", "--run-id", "o1")})


def test_a_run_passing_outputs_succeeds(outputs: Runs) -> None:
    run = outputs.runs["o1"]
    assert run.code == 0, str(run)
    assert run.summary() == {
        "extract": Row("success", 1),
        "letters": Row("success", 1),
        "nothing": Row("success", 1),
        "numbers": Row("success", 1),
        "load": Row("success", 1),
        "clears[0]": Row("success", 1),
        "clears[1]": Row("success", 1),
        "clears[2]": Row("success", 1),
        "each": Row("skipped", 0),
        "flaky[0]": Row("success", 1),
        "flaky[1]": Row("success", 2),
        "flaky[2]": Row("success", 1),
        "after_each": Row("skipped", 0),
        "collect__1": Row("success", 1),
        "scale[0]": Row("success", 1),
        "scale[1]": Row("success", 1),
        "scale[2]": Row("success", 1),
        "scale[3]": Row("success", 1),
        "collect": Row("success", 1),
    }, str(run)


def test_load_gets_the_output_of_extract_and_an_item_of_it(outputs: Runs) -> None:
    lines = outputs.runs["o1"].lines("load")
    assert "load got {'rows': [1, 2, 3], 'source': 'db'} and rows=[1, 2, 3]" in lines


def test_partial_output_crossed_with_a_mapped_output_and_a_literal_list(outputs: Runs) -> None:
    run = outputs.runs["o1"]
    assert run.lines("scale") == ["[runner] mapped into 4 task instances"]
    # factor = load's total (6); x from numbers() ([1, 2]) crossed with offset [10, 20].
    assert "collect got [16, 26, 22, 32] (db)" in run.lines("collect")


def test_a_retried_mapped_instance_keeps_its_own_state(outputs: Runs) -> None:
    run = outputs.runs["o1"]
    assert (
        "collect got [{'letter': 'a', 'keys': ['try1']}, {'letter': 'b', 'keys': ['try1', "
        "'try2']}, {'letter': 'c', 'keys': ['try1']}] (flaky)"
    ) in run.lines("collect__1")
    listed = outputs.cli.run(
        "state", "list", "--dag-id", "e2e_outputs", "--task-id", "flaky", "--json"
    ).json()
    assert by_index(listed) == {
        0: {"try1": "a"},
        1: {"try1": "b", "try2": "b"},
        2: {"try1": "c"},
    }


def test_a_task_clearing_its_own_state_clears_only_its_own_index(outputs: Runs) -> None:
    listed = outputs.cli.run(
        "state", "list", "--dag-id", "e2e_outputs", "--task-id", "clears", "--json"
    ).json()
    assert by_index(listed) == {1: {"mark": "b"}, 2: {"mark": "c"}}


def test_an_empty_mapping_skips_the_task_and_its_downstream(outputs: Runs) -> None:
    run = outputs.runs["o1"]
    assert run.lines("each") == ["[runner] skipped: it maps over an empty list"]
    assert run.lines("after_each") == ["[runner] skipped: an upstream task was skipped"]


# -- outputs that cannot be used ----------------------------------------------------------------


@pytest.fixture(scope="module")
def bad(make_cli: Callable[..., Cli]) -> Runs:
    cli = make_cli("bad_outputs", {"TASKSTATE__STATE_STORE__MAX_VALUE_BYTES": "1000"})
    return Runs(cli, {"b1": cli.dags_test(DAGS / "bad_outputs.py", "--run-id", "b1")})


def test_outputs_that_cannot_be_used_fail_their_tasks(bad: Runs) -> None:
    run = bad.runs["b1"]
    assert run.code == 1, str(run)
    assert run.summary() == {
        "a_dict": Row("success", 1),
        "returns_a_set": Row("failed", 2),
        "returns_too_much": Row("failed", 1),
        "per_key": Row("failed", 0),
        "per_key__1": Row("failed", 0),
        "takes": Row("upstream_failed", 0),
        "takes__1": Row("upstream_failed", 0),
        "takes__2": Row("failed", 1),
    }, str(run)


def test_an_output_that_is_not_a_list_cannot_be_mapped(bad: Runs) -> None:
    assert bad.runs["b1"].lines("per_key") == [
        "[runner] failed: UnmappableOutputError: per_key.expand(key=...) maps over the output "
        "of a_dict(), which is dict, not a list"
    ]


def test_an_item_the_output_does_not_have_fails_the_task(bad: Runs) -> None:
    missing = "the output a_dict() is a dict of 1 items; it has no item"
    # Taken as an argument: the task process cannot be set up.
    assert f"error: InvalidValueError: a_dict()['missing']: {missing} 'missing'" in (
        bad.runs["b1"].lines("takes__2")
    )
    # Mapped over: the runner cannot expand the task.
    assert bad.runs["b1"].lines("per_key__1") == [
        f"[runner] failed: InvalidValueError: a_dict()['nope']: {missing} 'nope'"
    ]


def test_a_return_value_that_is_not_json_or_too_large_fails_the_try(bad: Runs) -> None:
    run = bad.runs["b1"]
    not_json = run.lines("returns_a_set")
    assert not_json.count("returning a set") == 2  # each try fails the same way
    assert (
        "error: the return value of 'returns_a_set' cannot be stored as its output: "
        "InvalidValueError: set is not JSON-serializable; store str, int, float, bool, list or "
        "dict (convert it first, e.g. a datetime with .isoformat())"
    ) in not_json
    too_large = run.lines("returns_too_much")
    assert any(
        "cannot be stored as its output: ValueTooLargeError: value is 2002 bytes of JSON, over "
        "the limit of 1000" in line
        for line in too_large
    ), too_large
    with bad.cli.api() as public:
        assert public.get_task_output("e2e_bad_outputs", "b1", "returns_a_set") is None
