"""The operators taskstate builds: what ``execute`` does and which tasks a branch skips."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from taskstate.sdk import (
    DAG,
    AirflowException,
    AirflowSkipException,
    BaseBranchOperator,
    BashOperator,
    BranchPythonOperator,
    EmptyOperator,
    PythonOperator,
    ShortCircuitOperator,
    TaskGroup,
    task,
)
from taskstate.sdk.operators.branch import skips_downstream

from .conftest import Decide, Decided

START = datetime(2026, 1, 1, tzinfo=UTC)
CONTEXT: dict[str, Any] = {
    "ti": SimpleNamespace(dag_id="d", task_id="t", try_number=2),
    "dag_run": SimpleNamespace(run_id="r1", logical_date=None),
    "params": {"p": 1},
}


def test_empty_and_python_operators() -> None:
    def add(a: int, b: int, params: dict[str, int], templates_dict: Any, **kwargs: Any) -> int:
        assert templates_dict == {"t": "x"}
        assert kwargs["ti"] is CONTEXT["ti"] and "dag_run" in kwargs
        return a + b + params["p"]

    def narrow(a: int, ti: Any) -> str:
        return f"{a}-{ti.try_number}"

    with DAG("d", start_date=START):
        empty = EmptyOperator(task_id="empty")
        wide = PythonOperator(
            task_id="wide",
            python_callable=add,
            op_args=[1],
            op_kwargs={"b": 2},
            templates_dict={"t": "x"},
            templates_exts=[".sql"],
        )
        picky = PythonOperator(task_id="picky", python_callable=narrow, op_args=[5])
    assert empty.execute(CONTEXT) is None
    assert wide.template_fields == ("templates_dict", "op_args", "op_kwargs")
    assert wide.template_ext == (".sql",)
    assert wide.run(CONTEXT) == 4
    assert picky.run(CONTEXT) == "5-2"
    with DAG("e", start_date=START), pytest.raises(Exception, match="must be callable"):
        PythonOperator(task_id="bad", python_callable="print")  # type: ignore[arg-type]


def returning(value: Any) -> Any:
    return lambda: value


def test_a_branch_skips_the_direct_downstream_tasks_it_does_not_follow(decide: Decide) -> None:
    choices: dict[str, Any] = {
        "two": ["a", "g"],
        "one": "b",
        "none": None,
        "empty": [],
        "all": {"a", "b", "g"},
    }
    with DAG("d", start_date=START) as dag:
        branches = {
            name: BranchPythonOperator(task_id=name, python_callable=returning(value))
            for name, value in choices.items()
        }
        a, b = EmptyOperator(task_id="a"), EmptyOperator(task_id="b")
        with TaskGroup("g") as g:
            EmptyOperator(task_id="g1") >> EmptyOperator(task_id="g2")
        join = EmptyOperator(task_id="join")
        a >> join
        for branch in branches.values():
            branch >> [a, b, g]
            branch >> join  # reached through the followed a: not skipped
        alone = BranchPythonOperator(task_id="alone", python_callable=returning("a"))
    # A branch that skips tasks stores no output; its decision names what it follows.
    assert decide(branches["two"]) == Decided(None, {"followed": ["a", "g.g1", "join"]}, True)
    assert decide(branches["one"]) == Decided(None, {"followed": ["b"]}, True)
    assert (
        decide(branches["none"])
        == decide(branches["empty"])
        == Decided(None, {"followed": []}, True)
    )
    # One that skips nothing keeps its output, as does a mapped instance or a branch with no
    # downstream task.
    followed = {"followed": ["a", "b", "g.g1", "join"]}
    assert decide(branches["all"]) == Decided(["a", "b", "g"], followed, False)
    assert decide(branches["one"], map_index=0) == Decided("b", {"followed": ["b"]}, False)
    assert decide(alone) == Decided("a", None, False)
    assert "g.g2" not in branches["one"].downstream_task_ids and dag.tasks["g.g2"]
    bad = BranchPythonOperator(task_id="bad", python_callable=lambda: "nope", dag=dag)
    with pytest.raises(AirflowException, match="Invalid tasks found: \\['nope'\\]"):
        decide(bad)
    typed = BranchPythonOperator(task_id="typed", python_callable=lambda: [1], dag=dag)
    with pytest.raises(AirflowException, match="task ids"):
        decide(typed)


def test_branch_operator_subclasses_and_taskflow_branches(decide: Decide) -> None:
    class Choose(BaseBranchOperator):
        def choose_branch(self, context: Any) -> Any:
            return {"left"}

    with DAG("d", start_date=START):
        chooser = Choose(task_id="choose")

        @task.branch
        def pick(n: int) -> str:
            return "left" if n else "right"

        picked = pick(0)
        left, right = EmptyOperator(task_id="left"), EmptyOperator(task_id="right")
        chooser >> [left, right]
        picked >> [left, right]
    assert decide(chooser) == Decided(None, {"followed": ["left"]}, True)
    assert decide(picked.prepare(-1, {})) == Decided(None, {"followed": ["right"]}, True)
    assert skips_downstream(chooser) and skips_downstream(picked)
    assert not skips_downstream(left)


def test_a_short_circuit_skips_downstream_when_its_condition_is_false(decide: Decide) -> None:
    with DAG("d", start_date=START):
        every = ShortCircuitOperator(task_id="every", python_callable=lambda: 0)
        direct = ShortCircuitOperator(
            task_id="direct", python_callable=lambda: 0, ignore_downstream_trigger_rules=False
        )
        a, b = EmptyOperator(task_id="a"), EmptyOperator(task_id="b")
        tear = EmptyOperator(task_id="tear").as_teardown()
        every >> a >> b >> tear
        direct >> a
        only_teardown = ShortCircuitOperator(task_id="only_teardown", python_callable=lambda: 0)
        only_teardown >> tear
        alone = ShortCircuitOperator(task_id="alone", python_callable=lambda: [])

        @task.short_circuit
        def gate(value: Any) -> Any:
            return value

        gated, stopped = gate(True), gate(False)
        gated >> b
        stopped >> b
    assert decide(every) == Decided(None, {"skipped": ["a", "b"]}, True)  # never a teardown
    assert decide(every, map_index=1) == Decided(0, {"skipped": ["a", "b"]}, False)
    assert decide(direct) == Decided(None, {"skipped": ["a"]}, True)
    # Nothing to skip: the condition is the output, as is a truthy one.
    assert decide(only_teardown) == Decided(0, None, False)
    assert decide(alone) == Decided([], None, False)
    assert decide(gated.prepare(-1, {})) == Decided(True, None, False)
    assert decide(stopped.prepare(-1, {})) == Decided(None, {"skipped": ["b"]}, True)


def test_bash_operator_runs_a_command_and_returns_its_last_line(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    with DAG("d", start_date=START):
        echo = BashOperator(
            task_id="echo",
            bash_command='echo "first"; echo $AIRFLOW_CTX_DAG_RUN_ID $OWN $HOME; pwd; echo err >&2',
            env={"OWN": "mine"},
            cwd=str(tmp_path),
        )
        appended = BashOperator(
            task_id="appended", bash_command="echo $OWN-$HOME", env={"OWN": "x"}, append_env=True
        )
        temp = BashOperator(task_id="temp", bash_command="pwd")
    assert echo.template_fields == ("bash_command", "env", "cwd")
    assert echo.execute(CONTEXT) == "err"
    assert capfd.readouterr().out.splitlines() == ["first", "r1 mine", str(tmp_path), "err"]
    assert appended.execute(CONTEXT) == f"x-{os.environ['HOME']}"
    assert temp.execute(CONTEXT) != os.getcwd()


def test_bash_exit_codes_skip_or_fail(tmp_path: Path) -> None:
    script = tmp_path / "run.sh"
    script.write_text("echo from script\nexit 0\n")
    with DAG("d", start_date=START):
        skip = BashOperator(task_id="skip", bash_command="exit 99")
        custom = BashOperator(task_id="custom", bash_command="exit 3", skip_on_exit_code=[3])
        never = BashOperator(task_id="never", bash_command="exit 99", skip_on_exit_code=None)
        fail = BashOperator(task_id="fail", bash_command="echo partial; exit 2")
        # A .sh command is a template file: its rendered text is what runs.
        rendered = BashOperator(task_id="rendered", bash_command=script.read_text() + "#.sh")
        missing = BashOperator(task_id="missing", bash_command="true", cwd=str(tmp_path / "no"))
    with pytest.raises(AirflowSkipException, match="exit code 99"):
        skip.execute(CONTEXT)
    with pytest.raises(AirflowSkipException):
        custom.execute(CONTEXT)
    with pytest.raises(AirflowException, match="non-zero exit code 99"):
        never.execute(CONTEXT)
    with pytest.raises(AirflowException, match="non-zero exit code 2"):
        fail.execute(CONTEXT)
    assert rendered.execute(CONTEXT) == "from script"
    with pytest.raises(AirflowException, match="Can not find the cwd"):
        missing.execute(CONTEXT)


def test_task_bash_runs_the_command_its_function_returns() -> None:
    with DAG("d", start_date=START):

        @task.bash(env={"WHO": "you"})
        def greet(greeting: str) -> str:
            return f"echo {greeting} $WHO"

        @task.bash
        def nothing() -> str:
            return " "

        made, empty = greet("hi"), nothing()
    assert made.prepare(-1, {}).execute(CONTEXT) == "hi you"
    with pytest.raises(TypeError, match="non-empty string"):
        empty.prepare(-1, {}).execute(CONTEXT)
