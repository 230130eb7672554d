"""An Airflow-style DAG through real runs of ``taskstate dags test``: classic operators, their
outputs, a mapped task group whose tasks pass each instance's output on, setup/teardown tasks,
and a mapped BashOperator (``tests/e2e/dags/airflow_operators.py``)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from .conftest import DAGS, Cli, Result, Row

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def run(make_cli: Callable[..., Cli]) -> Result:
    cli = make_cli("airflow_operators")
    return cli.dags_test(DAGS / "airflow_operators.py", "--run-id", "a1")


def test_every_task_instance_succeeds(run: Result) -> None:
    assert run.code == 0, str(run)
    assert run.summary() == {
        "create": Row("success", 1),
        "numbers": Row("success", 1),
        "per_number.square[0]": Row("success", 1),
        "per_number.square[1]": Row("success", 1),
        "per_number.square[2]": Row("success", 1),
        "per_number.label[0]": Row("success", 1),
        "per_number.label[1]": Row("success", 1),
        "per_number.label[2]": Row("success", 1),
        "start": Row("success", 1),
        "echo": Row("success", 1),
        "double": Row("success", 1),
        "collect": Row("success", 1),
        "delete": Row("success", 1),
        "shell.each[0]": Row("success", 1),
        "shell.each[1]": Row("success", 1),
    }, str(run)


def test_outputs_flow_between_classic_and_taskflow_tasks(run: Result) -> None:
    assert "hello you" in run.lines("echo")
    # Each instance of the group's second task got its own instance's output, not the list.
    for index, squared in enumerate([1, 4, 9]):
        label = f"per_number.label[{index}]"
        assert f"label map_index={index} squared={squared}" in run.lines(label), str(run)
    assert "collected ['0:1', '1:4', '2:9'] and 42" in run.lines("collect"), str(run)
    assert "deleted resource" in run.lines("delete")
    assert "two" in run.lines("shell.each[1]")
