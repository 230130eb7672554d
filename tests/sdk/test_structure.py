"""The DAG files in ``tests/sdk/dags`` build, under taskstate, the structure Apache Airflow 3.3.2
builds from them: the same DAGs, task ids, upstream tasks, trigger rules, setup/teardown roles,
retries, mapping, task groups and params.

``dags/airflow_structure.json`` is what Airflow built, recorded by hand with
``python tests/sdk/structure_dump.py dump airflow FILE`` (the test itself needs no Airflow).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from taskstate.sdk.loader import load_dag_file

DAGS = Path(__file__).parent / "dags"
EXPECTED = json.loads((DAGS / "airflow_structure.json").read_text())


def structure(path: Path) -> dict[str, object]:
    found = {}
    for dag_id, dag in sorted(load_dag_file(path).items()):
        tasks = {}
        for t in dag.tasks.values():
            timeout = t.execution_timeout
            tasks[t.task_id] = {
                "upstream": sorted(t.upstream_task_ids),
                "trigger_rule": str(t.trigger_rule),
                "is_setup": t.is_setup,
                "is_teardown": t.is_teardown,
                "retries": t.retries,
                "mapped": t.is_mapped,
                "execution_timeout": None if timeout is None else timeout.total_seconds(),
                "multiple_outputs": t.multiple_outputs,
                "on_failure_fail_dagrun": t.on_failure_fail_dagrun,
            }
        found[dag_id] = {
            "tasks": tasks,
            "groups": sorted(dag.task_group_dict),
            "params": sorted(dag.params),
        }
    return found


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_the_structure_is_airflow_s(name: str) -> None:
    assert structure(DAGS / name) == EXPECTED[name]
