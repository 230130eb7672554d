"""XComs, asset events and try outcomes through two real runs of ``taskstate dags test``
(tests/e2e/dags/data_plane.py), then ``taskstate assets ...`` over the same home."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest

from .conftest import DAGS, Cli, Result, Row

pytestmark = pytest.mark.e2e

DAG = DAGS / "data_plane.py"


@dataclass
class Runs:
    cli: Cli
    first: Result
    second: Result


@pytest.fixture(scope="module")
def runs(make_cli: Callable[..., Cli]) -> Runs:
    cli = make_cli("data_plane")
    first = cli.dags_test(DAG, "--run-id", "first", "--parallelism", "4")
    second = cli.dags_test(DAG, "--run-id", "second", "--parallelism", "4")
    return Runs(cli, first, second)


def test_every_task_ends_as_its_try_said(runs: Runs) -> None:
    for run in (runs.first, runs.second):
        assert run.code == 1, str(run)  # gives_up failed
        assert run.summary() == {
            "push": Row("success", 1),
            "other": Row("success", 1),
            "fan[0]": Row("success", 1),
            "fan[1]": Row("success", 1),
            "fan[2]": Row("success", 1),
            "pull": Row("success", 1),
            "write": Row("success", 1),
            "read": Row("success", 1),
            "skips": Row("skipped", 1),  # retries left, yet no second try
            "after_skip": Row("skipped", 0),
            "gives_up": Row("failed", 1),  # retries left, yet no second try
        }, str(run)
    assert runs.first.lines("skips")[-1] == "[supervisor] try 1 skipped: the task skipped itself"
    assert "gives_up try 1" in runs.first.lines("gives_up")
    assert "task failed and asked for no retry" in runs.first.lines("gives_up")[-1]


def test_xcoms_are_pulled_with_airflows_shapes(runs: Runs) -> None:
    lines = runs.first.lines("pull")
    for expected in (
        "single {'batch': 7}",
        "return pushed",
        "list [{'batch': 7}, {'batch': 8}]",
        "mapped [2, 3, 4]",
        "mapped key [1, 4, 9]",
        "one index 3",
        "default d",
    ):
        assert expected in lines, str(runs.first)


def test_xcoms_are_listed_by_the_public_api(runs: Runs) -> None:
    with runs.cli.api() as client:
        tis = client.get_run("e2e_data_plane", "first")["task_instances"]
        push = next(ti for ti in tis if ti["task_id"] == "push")
        xcoms = {x["key"]: x["value"] for x in client.list_xcoms(push["id"])}
    assert xcoms == {"config": {"batch": 7}, "return_value": "pushed"}


def test_a_later_run_reads_the_events_earlier_runs_recorded(runs: Runs) -> None:
    assert "events ['first']" in runs.first.lines("read")
    assert "events ['first', 'second']" in runs.second.lines("read")
    assert "newest e2e_data_plane second write" in runs.second.lines("read")


def test_the_assets_commands_show_the_events(runs: Runs) -> None:
    (asset,) = runs.cli.run("assets", "list", "--json").json()
    assert (asset["name"], asset["uri"], asset["events"]) == ("e2e_lake", "s3://e2e/lake", 2)
    events = runs.cli.run("assets", "events", "e2e_lake", "--json").json()
    assert [(e["extra"], e["source_run_id"]) for e in events] == [
        ({"run": "second"}, "second"),
        ({"run": "first"}, "first"),
    ]
    table = runs.cli.run("assets", "events", "e2e_lake", "--limit", "1")
    assert table.code == 0, str(table)
    assert "e2e_data_plane / second / write" in table.stdout
    assert '{"run": "first"}' not in table.stdout
