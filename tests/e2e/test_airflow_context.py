"""``taskstate dags test FILE LOGICAL_DATE --conf JSON`` on a DAG that prints what Airflow's
context gives it (tests/e2e/dags/airflow_context.py): dates, params, the conf, a rendered
template."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from .conftest import DAGS, Cli, Result, Row

pytestmark = pytest.mark.e2e

DAG = DAGS / "airflow_context.py"
ENV = {
    "AIRFLOW_VAR_REGION": "eu-west-1",
    "AIRFLOW_CONN_WAREHOUSE": "postgres://etl:secret@warehouse.example:5432/orders",
}


@dataclass
class ContextRun:
    cli: Cli
    run: Result

    def seen(self, task_id: str, tag: str) -> Any:
        [line] = [x for x in self.run.lines(task_id) if x.startswith(tag + " ")]
        text = line[len(tag) + 1 :]
        return text if tag in ("RENDERED", "GOT") else json.loads(text)


@pytest.fixture(scope="module")
def dated(make_cli: Callable[..., Cli]) -> ContextRun:
    cli = make_cli("airflow-context")
    run = cli.dags_test(DAG, "2026-03-01", "--conf", '{"x": 2}', "--run-id", "dated", env=ENV)
    return ContextRun(cli, run)


def test_the_run_succeeds(dated: ContextRun) -> None:
    assert dated.run.code == 0, str(dated.run)
    assert dated.run.summary() == {
        "both_names": Row("success", 1),
        "braces": Row("success", 1),
        "extract": Row("success", 1),
        "show": Row("success", 1),
        "report": Row("success", 1),
    }


def test_dates_params_and_conf(dated: ContextRun) -> None:
    assert dated.seen("show", "SEEN") == {
        "ds": "2026-03-01",
        "ts": "2026-03-01T00:00:00+00:00",
        "params": {"x": 2, "label": "default"},
        "conf": {"x": 2},
        "run_type": "manual",
        "logical_date": "2026-03-01T00:00:00+00:00",
        "data_interval": ["2026-03-01T00:00:00+00:00", "2026-03-01T00:00:00+00:00"],
        "tomorrow": "2026-03-02",
        "region": "eu-west-1",
        "warehouse": "warehouse.example",
    }


def test_a_templated_argument_is_rendered(dated: ContextRun) -> None:
    assert dated.seen("report", "RENDERED") == (
        "ds=2026-03-01 x=2 k=none tomorrow=2026-03-02 pulled=3 region=eu-west-1 project=lake"
    )
    assert dated.seen("report", "ROWS") == {"rows": [1, 2, 3]}
    # An upstream output passed as an argument is not rendered, as in Airflow.
    assert dated.seen("report", "OUTPUT") == "{{ an output is data, never a template }}"


def test_both_accessor_names_are_the_same_object(dated: ContextRun) -> None:
    assert dated.seen("both_names", "SAME") == [True, True]
    assert dated.seen("both_names", "GOT") == "through task_state_store"


def test_the_server_keeps_the_run_dates_and_conf(dated: ContextRun) -> None:
    with dated.cli.api() as client:
        run = client.get_run("e2e_airflow_context", "dated")
    assert run["logical_date"] == "2026-03-01T00:00:00+00:00"
    assert run["data_interval_start"] == run["data_interval_end"] == run["logical_date"]
    assert run["conf"] == {"x": 2}


def test_the_same_run_id_with_another_conf_is_refused(dated: ContextRun) -> None:
    again = dated.cli.dags_test(DAG, "--conf", '{"x": 3}', "--run-id", "dated", env=ENV)
    assert again.code == 2
    assert 'already has a run \'dated\', with conf {"x": 2}, not {"x": 3}' in again.stderr
    assert "SEEN" not in again.stdout


def test_without_a_date_or_conf_the_run_is_now_with_the_defaults(dated: ContextRun) -> None:
    before = datetime.now(UTC)
    run = dated.cli.dags_test(DAG, "--run-id", "undated", env=ENV)
    after = datetime.now(UTC)
    assert run.code == 0, str(run)
    seen = ContextRun(dated.cli, run).seen("show", "SEEN")
    assert seen["params"] == {"x": 1, "label": "default"}
    assert seen["conf"] == {}
    assert before <= datetime.fromisoformat(seen["logical_date"]) <= after
    assert seen["ds"] in {before.strftime("%Y-%m-%d"), after.strftime("%Y-%m-%d")}


def test_a_conf_the_params_refuse_runs_nothing(dated: ContextRun) -> None:
    run = dated.cli.dags_test(DAG, "2026-03-01", "--conf", '{"x": -1}', env=ENV)
    assert run.code == 2
    assert "param 'x': -1 is less than the minimum of 0" in run.stderr
    assert run.summary() == {}
    assert not any(line.startswith("show | ") for line in run.stdout.splitlines())
