"""The differential test: DAG files of our own, written for Apache Airflow 3 (``dags/``),
run under Airflow 3.3.2 and, with their import lines rewritten, under taskstate; every task
instance's final state, try count and output, and every run's state, must be the same.

They cover issue 10's items 2-7: the context and dates (``context.py``), the trigger-rule
matrix, branching and short-circuit skip propagation, setup/teardown, templates, params with
``--conf``, XCom, mapping and mapped task groups, retries, timeouts, the BashOperator and
asset events. Each file's docstring says what it holds; ``basics.py`` is the harness's own
check (``test_harness.py``).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.e2e.conftest import Cli

from taskstate.testing.airflow import DagRunResult, RunSpec, convert_imports

from .conftest import selected
from .harness import OWN_DAGS, AirflowResults, Case, case, differences, run_taskstate
from .names import ISSUE_NAMES

pytestmark = [pytest.mark.airflow, pytest.mark.timeout(180, func_only=True)]

LOGICAL_DATE = "2026-01-02T03:04:05+00:00"

CASES = [
    case(OWN_DAGS / "trigger_rules.py", "trigger_rules_single", name="trigger_rules_single"),
    case(OWN_DAGS / "trigger_rules.py", "trigger_rules_pairs", name="trigger_rules_pairs"),
    case(OWN_DAGS / "branching.py"),
    case(OWN_DAGS / "short_circuit.py"),
    *(
        case(OWN_DAGS / "setup_teardown.py", dag_id, name=dag_id)
        for dag_id in (
            "st_work_fails",
            "st_setup_fails",
            "st_teardown_fails",
            "st_teardown_fails_dagrun",
        )
    ),
    case(
        OWN_DAGS / "templates.py",
        runs=[RunSpec("templates", LOGICAL_DATE), RunSpec("templates_native", LOGICAL_DATE)],
        files=[OWN_DAGS / "templates"],
    ),
    case(
        OWN_DAGS / "params.py",
        runs=[
            RunSpec("params", "2026-01-02T00:00:00+00:00"),
            RunSpec("params", "2026-01-03T00:00:00+00:00", {"x": 7, "name": "from conf"}),
        ],
    ),
    case(OWN_DAGS / "xcom.py"),
    case(OWN_DAGS / "mapping.py"),
    case(OWN_DAGS / "retries.py"),
    case(OWN_DAGS / "timeouts.py"),
    case(OWN_DAGS / "bash.py"),
    case(OWN_DAGS / "assets.py", "asset_producer", "daily_report", "asset_consumer"),
    case(OWN_DAGS / "context.py", runs=[RunSpec("context", LOGICAL_DATE, {"k": "v"})]),
]


@pytest.fixture(scope="module")
def prefetched(request: pytest.FixtureRequest, airflow_results: AirflowResults) -> AirflowResults:
    """Airflow's runs of the selected cases, started at once in the background."""
    airflow_results.prefetch(selected(request, "dag_case"))
    return airflow_results


@pytest.fixture
def on_airflow(dag_case: Case, prefetched: AirflowResults) -> list[DagRunResult]:
    return prefetched.get(dag_case)


def test_every_file_is_a_case() -> None:
    used = {item.path.name for item in CASES} | {"basics.py"}
    assert used == {path.name for path in OWN_DAGS.glob("*.py")}


@pytest.mark.parametrize("dag_case", CASES, ids=lambda item: item.name)
def test_file_needs_only_the_names_of_issue_10(dag_case: Case) -> None:
    convert_imports(dag_case.path.read_text(), exported=ISSUE_NAMES)


@pytest.mark.parametrize("dag_case", CASES, ids=lambda item: item.name)
def test_runs_on_taskstate_as_on_airflow(
    dag_case: Case, on_airflow: list[DagRunResult], ts_cli: Cli, tmp_path: Path
) -> None:
    ours = run_taskstate(ts_cli, dag_case, tmp_path)
    assert differences(dag_case, on_airflow, ours.runs) == [], ours.transcript()
