"""The task process's main: prepare the operator, run it, store its output, exit with a code
that says how it ended. Against the frame-serving supervisor stand-in (``conftest.py``)."""

from __future__ import annotations

import socket
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from taskstate.contracts.frames import (
    EXIT_FAILED_NO_RETRY,
    EXIT_SKIPPED,
    EXIT_SUCCESS,
    EXIT_TASK_FAILED,
    Frame,
    PullXCom,
    SetTaskOutput,
    StartTask,
)
from taskstate.contracts.types import DagRunInfo, TaskInstanceInfo
from taskstate.runtime.main import main
from taskstate.state.codec import decode_value

from .conftest import FrameServer

DAG_FILE = """
import json
from datetime import datetime
from taskstate.sdk import (
    DAG, AirflowFailException, AirflowSkipException, BashOperator, EmptyOperator,
    PythonOperator, XComArg, dag, get_current_context, task,
)

def double(x):
    return x * 2

with DAG("d", start_date=datetime(2026, 1, 1)):
    source = EmptyOperator(task_id="source")
    PythonOperator(task_id="classic", python_callable=double, op_args=[source.output])
    BashOperator.partial(task_id="each").expand(bash_command=["echo a", "echo b; echo last"])
    BashOperator(task_id="bash_skip", bash_command="exit 99")

    @task
    def skip():
        raise AirflowSkipException("not today")

    @task
    def fail_now():
        raise AirflowFailException("no point retrying")

    @task
    def broken():
        raise ValueError("bug")

    @task(do_xcom_push=False)
    def quiet():
        return 1

    @task
    def current():
        context = get_current_context()
        return [context["run_id"], context["map_index"]]

    @task
    def other_key(value):
        return value

    skip(); fail_now(); broken(); quiet(); current()
    other_key(XComArg(source, key="k"))

@dag(start_date=datetime(2026, 1, 1))
def with_params(rows=3):
    @task
    def show(rows):
        return rows
    show(rows)

with_params()
"""


@dataclass
class Ran:
    code: int
    server: FrameServer

    @property
    def output(self) -> object:
        sent = [r for r in self.server.requests if isinstance(r, SetTaskOutput)]
        return decode_value(sent[0].data) if sent else None


@pytest.fixture
def dag_file(tmp_path: Path) -> Path:
    path = tmp_path / "main_dag.py"
    path.write_text(textwrap.dedent(DAG_FILE))
    return path


def run(
    dag_file: Path,
    task_id: str,
    *,
    dag_id: str = "d",
    map_index: int = -1,
    outputs: dict[str, bytes] | None = None,
) -> Ran:
    ours, theirs = socket.socketpair()
    server = FrameServer(theirs, set())
    for upstream, data in (outputs or {}).items():
        server.outputs[(dag_id, "r", upstream)] = data
    ti = TaskInstanceInfo(
        id="ti", dag_id=dag_id, run_id="r", task_id=task_id, map_index=map_index, try_number=1
    )
    start = StartTask(
        ti=ti,
        dag_file=str(dag_file),
        assets=[],
        max_value_bytes=1 << 20,
        dag_run=DagRunInfo(None, None, None, b"{}", "2026-03-01T00:00:00+00:00"),
    )
    server.frames.send(Frame(0, start))
    server.thread.start()
    try:
        code = main([str(ours.detach())])
    finally:
        server.thread.join(timeout=10)
        theirs.close()
    return Ran(code, server)


def test_a_classic_operator_runs_with_its_upstream_output(dag_file: Path) -> None:
    ran = run(dag_file, "classic", outputs={"source": b"21"})
    assert ran.code == EXIT_SUCCESS and ran.output == 42


def test_a_mapped_classic_instance_runs_with_its_own_value(
    dag_file: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    ran = run(dag_file, "each", map_index=1)
    assert ran.code == EXIT_SUCCESS and ran.output == "last"
    assert capfd.readouterr().out.splitlines()[-2:] == ["b", "last"]


@pytest.mark.parametrize(
    ("task_id", "code", "message"),
    [
        ("skip", EXIT_SKIPPED, "Task skipped: not today"),
        ("bash_skip", EXIT_SKIPPED, "Task skipped: Bash command returned exit code 99"),
        ("fail_now", EXIT_FAILED_NO_RETRY, "AirflowFailException: no point retrying"),
        ("broken", EXIT_TASK_FAILED, "ValueError: bug"),
    ],
)
def test_how_a_task_ends_is_its_exit_code(
    dag_file: Path, capfd: pytest.CaptureFixture[str], task_id: str, code: int, message: str
) -> None:
    ran = run(dag_file, task_id)
    assert ran.code == code and ran.output is None
    printed = capfd.readouterr()
    assert message in printed.out + printed.err


def test_an_xcom_of_another_key_is_pulled_before_the_task_runs(dag_file: Path) -> None:
    ran = run(dag_file, "other_key")
    assert ran.code == EXIT_SUCCESS and ran.output is None  # nothing pushed under "k"
    assert [(r.task_id, r.key) for r in ran.server.requests if isinstance(r, PullXCom)] == [
        ("source", "k")
    ]


def test_the_current_context_dag_params_and_do_xcom_push(dag_file: Path) -> None:
    assert run(dag_file, "current").output == ["r", -1]
    assert run(dag_file, "show", dag_id="with_params").output == 3
    quiet = run(dag_file, "quiet")
    assert quiet.code == EXIT_SUCCESS and quiet.output is None
