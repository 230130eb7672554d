"""The parts of ``taskstate.testing.airflow``'s runs that need no Airflow: labels, the
results' JSON form, the rule on logical dates, and the read-back script's JSON values (the
runs themselves are exercised by ``tests/airflow``)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from taskstate.testing.airflow import (
    AirflowInstallation,
    DagRunResult,
    RunSpec,
    TaskInstanceResult,
    instance_label,
    run_airflow,
)
from taskstate.testing.airflow._run import READBACK_SCRIPT


def test_labels_are_those_of_the_summary_table() -> None:
    assert instance_label("group.task", -1) == "group.task"
    assert instance_label("task", 3) == "task[3]"


def test_results_survive_json() -> None:
    run = DagRunResult(
        "d",
        "r",
        "failed",
        {"a": TaskInstanceResult("success", 2, {"x": [1]}), "b[0]": TaskInstanceResult(None, 0)},
    )
    assert DagRunResult.from_json(run.to_json()) == run


def test_runs_of_one_dag_need_distinct_logical_dates(tmp_path: Path) -> None:
    runs = [RunSpec("d", "2026-01-02"), RunSpec("e", "2026-01-02"), RunSpec("d", "2026-01-02")]
    with pytest.raises(ValueError, match="distinct logical dates"):
        run_airflow(AirflowInstallation(tmp_path, "0"), tmp_path / "dag.py", runs)


def test_the_readback_script_writes_json_values() -> None:
    spec = importlib.util.spec_from_file_location("readback", READBACK_SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # importing it imports no Airflow
    assert module._jsonable({"a": (1, [2.5, None]), "b": True}) == {
        "a": [1, [2.5, None]],
        "b": True,
    }
    assert module._jsonable({1: "x"}) == {"__repr__": "{1: 'x'}"}
    assert module._jsonable({1, 2}) == {"__repr__": "{1, 2}"}
