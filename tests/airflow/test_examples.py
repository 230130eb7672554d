"""Apache Airflow 3.3.2's own example DAGs, converted by rewriting their import lines only,
run on taskstate as they run on Airflow: the same task instances, final states, tries and
outputs, and the same run states (issue 10, "Must show").

The files are read from the Airflow the tests installed, never copied into this repository.
Included: every example that uses task state or asset state (``example_*state*.py``), and
those for the TaskFlow tutorial, dynamic task mapping, task groups, setup/teardown,
XCom args, branch labels, nested branching and short-circuiting. Left out, though their
names suggest them: ``example_branch_operator.py`` and ``example_branch_operator_decorator.py``
(they branch on ``random.choice``, so no two runs agree, and they need
``@task.external_python``/``@task.virtualenv`` building a numpy virtualenv, which taskstate
refuses), and ``example_python_decorator.py`` (``@task.virtualenv`` installing colorama,
``@task.external_python``, and a template file outside the DAG file).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from tests.e2e.conftest import Cli

from taskstate.testing.airflow import (
    AirflowInstallation,
    DagRunResult,
    TaskInstanceResult,
    convert_imports,
)

from .conftest import selected
from .harness import AirflowResults, Case, Instead, case, differences, run_taskstate
from .names import ISSUE_NAMES

pytestmark = [pytest.mark.airflow, pytest.mark.timeout(60, func_only=True)]


@dataclass(frozen=True)
class Example:
    """A file of the installed Airflow (path under the ``airflow`` package), its DAGs in the
    order they run (in one home), and its outputs compared by shape only."""

    path: str
    dag_ids: tuple[str, ...]
    loose: Mapping[str, str] = field(default_factory=dict)
    instead: Instead | None = None

    def case(self, installation: AirflowInstallation) -> Case:
        return case(
            installation.package / self.path, *self.dag_ids, name=Path(self.path).stem,
            loose=self.loose,
        )  # fmt: skip


CORE = "example_dags"
STANDARD = "providers/standard/example_dags"

EXAMPLES = [
    Example(
        f"{CORE}/example_task_state_store.py",
        ("example_task_state_store",),
        {"run_job": "a random number of rows written"},
    ),
    Example(
        f"{CORE}/example_task_state_store_async.py",
        ("example_task_state_store_async",),
        instead=Instead(
            "Airflow 3.3.2's own TaskStateStoreAccessor has no aget/aset (only the asset "
            "accessor has them), so every try fails with AttributeError under Airflow; "
            "taskstate has the async twins, and the example runs as its docstring says: the "
            "first try fails after 8 pages, the retry resumes from the checkpoint.",
            "example_task_state_store_async",
            ("failed", {"ingest_pages": TaskInstanceResult("failed", 3, None)}),
            (
                "success",
                {"ingest_pages": TaskInstanceResult("success", 2, {"pages": 12, "rows": 7800})},
            ),
        ),
    ),
    Example(
        f"{CORE}/example_task_state_store_mapped.py",
        ("example_task_state_store_mapped",),
        {"process_table": "a random row count and the current time"},
    ),
    Example(
        f"{CORE}/example_asset_state_store.py",
        ("example_asset_state_store_producer", "example_asset_state_store_consumer"),
        {"load": "a random number of records"},
    ),
    Example(f"{CORE}/tutorial_taskflow_api.py", ("tutorial_taskflow_api",)),
    Example(
        f"{CORE}/example_dynamic_task_mapping.py",
        (
            "example_dynamic_task_mapping",
            "example_task_mapping_second_order",
            "example_task_group_mapping",
        ),
    ),
    Example(f"{CORE}/example_task_group.py", ("example_task_group",)),
    Example(f"{CORE}/example_task_group_decorator.py", ("example_task_group_decorator",)),
    Example(f"{CORE}/example_setup_teardown.py", ("example_setup_teardown",)),
    Example(f"{CORE}/example_setup_teardown_taskflow.py", ("example_setup_teardown_taskflow",)),
    Example(
        f"{CORE}/example_xcomargs.py", ("example_xcom_args", "example_xcom_args_with_operators")
    ),
    Example(f"{CORE}/example_branch_labels.py", ("example_branch_labels",)),
    Example(f"{CORE}/example_nested_branch_dag.py", ("example_nested_branch_dag",)),
    Example(f"{STANDARD}/example_short_circuit_decorator.py", ("example_short_circuit_decorator",)),
    Example(f"{STANDARD}/example_short_circuit_operator.py", ("example_short_circuit_operator",)),
]


@pytest.fixture(scope="module")
def prefetched(
    request: pytest.FixtureRequest,
    airflow_results: AirflowResults,
    airflow_installation: AirflowInstallation,
) -> AirflowResults:
    """Airflow's runs of the selected examples, started at once in the background."""
    examples = selected(request, "example")
    airflow_results.prefetch(example.case(airflow_installation) for example in examples)
    return airflow_results


@pytest.fixture
def example_case(example: Example, airflow_installation: AirflowInstallation) -> Case:
    return example.case(airflow_installation)


@pytest.fixture
def on_airflow(
    example: Example, example_case: Case, prefetched: AirflowResults
) -> list[DagRunResult]:
    """Airflow's runs of the example, as taskstate must end them."""
    runs = prefetched.get(example_case)
    return example.instead.apply(runs) if example.instead else runs


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda example: Path(example.path).stem)
def test_example_needs_only_the_names_of_issue_10(example_case: Case) -> None:
    convert_imports(example_case.path.read_text(), exported=ISSUE_NAMES)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda example: Path(example.path).stem)
def test_example_runs_on_taskstate_as_on_airflow(
    example_case: Case, on_airflow: list[DagRunResult], ts_cli: Cli, tmp_path: Path
) -> None:
    ours = run_taskstate(ts_cli, example_case, tmp_path)
    assert differences(example_case, on_airflow, ours.runs) == [], ours.transcript()


class _Anything:
    """Every name: for converting files whatever they import."""

    def __contains__(self, name: object) -> bool:
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def test_the_converter_rewrites_only_the_import_lines_of_every_example(
    airflow_installation: AirflowInstallation,
) -> None:
    files = sorted(
        [
            *(airflow_installation.package / CORE).glob("*.py"),
            *(airflow_installation.package / STANDARD).glob("*.py"),
        ]
    )
    assert len(files) > 40
    for path in files:
        source = path.read_text()
        converted = convert_imports(source, exported=_Anything(), filename=str(path))
        imports = {
            node.lineno
            for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("airflow")
        }
        changed = {
            number
            for number, (old, new) in enumerate(
                zip(source.splitlines(), converted.splitlines(), strict=True), start=1
            )
            if old != new
        }
        assert changed == imports, path
        assert [
            node.module
            for node in ast.walk(ast.parse(converted))
            if isinstance(node, ast.ImportFrom)
            and node.module != "taskstate.sdk"
            and (node.module or "").startswith("airflow")
        ] == [], path
