"""``@task`` and its variants, ``.override``, task ids, checks at the call, setup/teardown."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, TypedDict

import pytest

from taskstate.errors import DagDefinitionError, UnsupportedFeatureError
from taskstate.sdk import DAG, Task, TriggerRule, setup, task, task_group, teardown
from taskstate.sdk.taskflow import BashTask, BranchTask, ShortCircuitTask

START = datetime(2026, 1, 1, tzinfo=UTC)


class Totals(TypedDict):
    n: int


@task
def plain(x: int = 0) -> int:
    """Add nothing."""
    return x


def test_a_function_called_again_is_numbered_as_airflow_numbers_it() -> None:
    with DAG("d", start_date=START) as dag:
        plain()
        plain()
        plain.override(task_id="plain__5")()
        plain()
        plain.override(task_id="other")()
        plain.override(task_id="other")()
    assert list(dag.tasks) == ["plain", "plain__1", "plain__5", "plain__6", "other", "other__1"]


def test_override_changes_options_for_one_call() -> None:
    with DAG("d", start_date=START):
        first = plain.override(task_id="first", retries=3, trigger_rule="all_done")(1)
        second = plain(2)
    assert (first.task_id, first.retries, first.trigger_rule) == ("first", 3, "all_done")
    assert (second.task_id, second.retries) == ("plain", 0)
    assert first.doc_md == "Add nothing."


def test_the_variants_build_their_task_classes() -> None:
    with DAG("d", start_date=START):

        @task.python(retries=1)
        def p() -> None: ...

        @task.branch
        def b() -> str:
            return "p"

        @task.short_circuit(ignore_downstream_trigger_rules=False)
        def s() -> bool:
            return True

        @task.bash(env={"A": "1"}, cwd="/tmp")
        def sh() -> str:
            return "echo hi"

        made = [p(), b(), s(), sh()]
    assert [type(t) for t in made] == [Task, BranchTask, ShortCircuitTask, BashTask]
    assert made[0].retries == 1
    assert made[2].ignore_downstream_trigger_rules is False  # type: ignore[attr-defined]
    assert made[3].env == {"A": "1"} and made[3].cwd == "/tmp"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "name", ["virtualenv", "external_python", "docker", "sensor", "kubernetes"]
)
def test_decorators_taskstate_does_not_build_are_refused_by_name(name: str) -> None:
    with pytest.raises(UnsupportedFeatureError, match=rf"does not support @task\.{name}") as caught:
        getattr(task, name)
    assert caught.value.detail == {"feature": f"@task.{name}"}


def test_multiple_outputs_is_given_or_inferred_from_the_return_annotation() -> None:
    with DAG("d", start_date=START):

        @task
        def mapping() -> dict[str, int]:
            return {}

        @task
        def typed() -> Totals:
            return {"n": 1}

        @task(multiple_outputs=False)
        def refused() -> dict[str, int]:
            return {}

        @task
        def listing() -> list[int]:
            return []

        made = [mapping(), typed(), refused(), listing(), plain.override(multiple_outputs=True)()]
    assert [t.multiple_outputs for t in made] == [True, True, False, False, True]


def test_calls_are_checked_against_the_signature_when_the_dag_is_defined() -> None:
    @task
    def needs(a: int, b: int, *, c: int = 0, ti: Any = None) -> None: ...

    with DAG("d", start_date=START):
        needs(1, 2)
        needs(1, b=2, c=3)
        with pytest.raises(DagDefinitionError, match=r"missing required argument\(s\): b"):
            needs(1)
        with pytest.raises(DagDefinitionError, match="unexpected keyword argument 'x'"):
            needs(1, 2, x=3)
        with pytest.raises(DagDefinitionError, match="takes 2 positional argument"):
            needs(1, 2, 3)
        with pytest.raises(DagDefinitionError, match="multiple values for argument 'a'"):
            needs(1, a=2)
        with pytest.raises(DagDefinitionError, match=r"missing required argument\(s\): b"):
            needs.partial(a=1).expand(c=[1])
        with pytest.raises(DagDefinitionError, match="on task context variable"):
            needs.partial(ti=1)

    @task
    def bad_default(ti: Any = 1) -> None: ...

    with DAG("e", start_date=START), pytest.raises(DagDefinitionError, match="context key"):
        bad_default()
    with pytest.raises(DagDefinitionError, match="does not support methods"):
        task(lambda self: None)
    with pytest.raises(DagDefinitionError, match=r"unknown @task\.bash option"):
        task.bash(bash_commandd="x")


def test_default_args_fill_the_function_s_parameters_too() -> None:
    @task
    def uses(retries: int, table: str = "t", other: str = "o") -> None: ...

    with DAG("d", start_date=START, default_args={"retries": 2, "table": "orders"}):
        made = uses()
        given = uses(5, table="x")
    assert made.op_kwargs == {"retries": 2, "table": "orders"} and made.retries == 2
    assert given.op_args == (5,) and given.op_kwargs == {"table": "x"}


def test_setup_and_teardown_decorators() -> None:
    @setup
    def create() -> str:
        return "c"

    @teardown(on_failure_fail_dagrun=True)
    def delete(c: str) -> None: ...

    @teardown
    @task(retries=2)
    def tidy() -> None: ...

    with DAG("d", start_date=START):
        made = create()
        deleted = delete(made)
        tidied = tidy()
    assert made.is_setup and not made.is_teardown
    assert deleted.is_teardown and deleted.on_failure_fail_dagrun
    assert deleted.trigger_rule is TriggerRule.ALL_DONE_SETUP_SUCCESS
    assert deleted.setup_task_ids == {"create"}
    assert tidied.is_teardown and tidied.retries == 2 and not tidied.on_failure_fail_dagrun
    with DAG("e", start_date=START), pytest.raises(DagDefinitionError, match="teardown task"):
        delete.override(trigger_rule="all_success")("x")

    @task_group
    def group() -> None: ...

    with pytest.raises(DagDefinitionError, match="task groups cannot be marked"):
        setup(group)


def test_a_task_called_outside_a_dag_says_so() -> None:
    with pytest.raises(DagDefinitionError, match="outside a `with DAG"):
        plain()
    with (
        DAG("d", start_date=START),
        pytest.raises(DagDefinitionError, match=r"partial\(...\) is followed by .expand"),
    ):
        plain.partial(x=1)()
