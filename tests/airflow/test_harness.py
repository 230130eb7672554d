"""The comparison itself: a DAG file that taskstate ran before issue 10 gives the same task
instances, states, tries and outputs under both runners, and a difference is reported."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.e2e.conftest import Cli

from taskstate.testing.airflow import DagRunResult, TaskInstanceResult

from .harness import OWN_DAGS, AirflowResults, case, differences, run_taskstate, shape

pytestmark = [pytest.mark.airflow, pytest.mark.timeout(60, func_only=True)]

BASICS = case(OWN_DAGS / "basics.py")


@pytest.fixture
def airflow_basics(airflow_results: AirflowResults) -> list[DagRunResult]:
    return airflow_results.get(BASICS)


def test_airflow_runs_are_read_back(airflow_basics: list[DagRunResult]) -> None:
    (run,) = airflow_basics
    assert (run.dag_id, run.state) == ("basics", "failed")
    assert run.run_id.startswith("manual__")
    assert run.task_instances == {
        "numbers": TaskInstanceResult("success", 1, [1, 2, 3]),
        "square[0]": TaskInstanceResult("success", 1, 1),
        "square[1]": TaskInstanceResult("success", 2, 4),
        "square[2]": TaskInstanceResult("success", 1, 9),
        "total": TaskInstanceResult("success", 1, {"sum": 14, "values": [1, 4, 9]}),
        "broken": TaskInstanceResult("failed", 1, None),
        "held_back": TaskInstanceResult("upstream_failed", 0, None),
    }


def test_taskstate_runs_the_same(
    airflow_basics: list[DagRunResult], ts_cli: Cli, tmp_path: Path
) -> None:
    ours = run_taskstate(ts_cli, BASICS, tmp_path)
    assert differences(BASICS, airflow_basics, ours.runs) == [], ours.transcript()


def test_differences_are_listed(airflow_basics: list[DagRunResult]) -> None:
    (run,) = airflow_basics
    changed = dict(run.task_instances)
    changed["square[1]"] = TaskInstanceResult("success", 1, 5)
    del changed["held_back"]
    changed["extra"] = TaskInstanceResult("success", 1, None)
    ours = DagRunResult(run.dag_id, "r", "success", changed)
    assert differences(BASICS, [run], [ours]) == [
        "basics: run 'success', Airflow 'failed'",
        "basics.held_back: missing (Airflow: "
        "TaskInstanceResult(state='upstream_failed', tries=0, output=None))",
        "basics.extra: not in Airflow's run "
        "(TaskInstanceResult(state='success', tries=1, output=None))",
        "basics.square[1]: success after 1 tries, Airflow success after 2",
        "basics.square[1]: output 5, Airflow 4",
    ]
    assert differences(BASICS, [run], []) == ["taskstate made 0 run(s), Airflow 1"]


def test_loose_outputs_are_compared_by_shape() -> None:
    assert shape({"b": [1, "x"], "a": 1.5}) == {"a": "float", "b": ["int", "str"]}
    loose = case(OWN_DAGS / "basics.py", loose={"square": "random"})
    theirs = DagRunResult(
        "basics", "a", "success", {"square[0]": TaskInstanceResult("success", 1, 3)}
    )
    ours = DagRunResult(
        "basics", "b", "success", {"square[0]": TaskInstanceResult("success", 1, 7)}
    )
    assert differences(loose, [theirs], [ours]) == []
    ours.task_instances["square[0]"] = TaskInstanceResult("success", 1, "7")
    assert differences(loose, [theirs], [ours]) == ["basics.square[0]: output '7', Airflow 3"]
