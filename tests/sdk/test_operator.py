"""BaseOperator: options, default_args, outputs given as arguments, prepare, hooks."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from taskstate.errors import DagDefinitionError, UnsupportedFeatureError
from taskstate.sdk import (
    DAG,
    Asset,
    AssetAlias,
    BaseOperator,
    EmptyOperator,
    TaskGroup,
    TriggerRule,
    XComArg,
    task,
)
from taskstate.sdk.operators.branch import skips_downstream
from taskstate.sdk.options import NO_EFFECT_OPTIONS, REFUSED_OPTIONS

START = datetime(2026, 1, 1, tzinfo=UTC)


class Greet(BaseOperator):
    """A user's operator: its own arguments, templated fields, execute."""

    template_fields = ("greeting", "names")

    def __init__(self, *, greeting: str = "hello", names: Any = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.greeting = greeting
        self.names = names

    def execute(self, context: Mapping[str, Any]) -> str:
        return f"{self.greeting} {self.names}"


def test_the_attributes_everyone_relies_on_and_their_defaults() -> None:
    with DAG("d", start_date=START) as dag:
        op = EmptyOperator(task_id="t")
    assert op.dag is dag and op.task_id == "t" and dag.tasks == {"t": op}
    assert op.retries == 0
    assert op.retry_delay == timedelta(0)
    assert op.retry_exponential_backoff == 0
    assert op.max_retry_delay is None and op.execution_timeout is None
    assert op.trigger_rule == TriggerRule.ALL_SUCCESS == "all_success"
    assert op.inlets == () and op.outlets == () and op.assets == ()
    assert not op.is_setup and not op.is_teardown and not op.on_failure_fail_dagrun
    assert op.upstream_task_ids == set() and op.downstream_task_ids == set()
    assert op.template_fields == () and op.template_ext == ()
    assert not op.multiple_outputs and op.do_xcom_push
    assert not op.is_mapped and op.map_indices == [-1]
    assert op.output_task_ids == set() and not skips_downstream(op)
    assert isinstance(op.output, XComArg) and op.output.operator is op
    assert repr(op) == "<Task(EmptyOperator): t>"


def test_options_are_checked_and_normalized() -> None:
    orders = Asset("orders")
    with DAG("d", start_date=START):
        op = EmptyOperator(
            task_id="t",
            retries=2,
            retry_delay=30,
            retry_exponential_backoff=True,
            max_retry_delay=600.0,
            execution_timeout=timedelta(seconds=5),
            trigger_rule="one_failed",
            inlets=orders,
            outlets=[AssetAlias("later"), Asset("out")],
            task_display_name="T",
            doc_md="# doc",
            on_failure_fail_dagrun=True,
        )
    assert op.retry_delay == timedelta(seconds=30)
    assert op.retry_exponential_backoff == 2.0  # Airflow 3 reads True as a multiplier of 2
    assert op.max_retry_delay == timedelta(minutes=10)
    assert op.execution_timeout == timedelta(seconds=5)
    assert op.trigger_rule is TriggerRule.ONE_FAILED
    assert op.inlets == (orders,) and op.outlets == (Asset("out"),)
    assert op.outlet_aliases == (AssetAlias("later"),)
    assert op.task_display_name == "T" and op.doc_md == "# doc" and op.on_failure_fail_dagrun


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"retries": -1}, "whole number"),
        ({"retries": True}, "whole number"),
        ({"retry_delay": "5m"}, "timedelta or a number of seconds"),
        ({"retry_delay": -1}, "must not be negative"),
        ({"retry_exponential_backoff": -2}, "multiplier"),
        ({"execution_timeout": 5}, "execution_timeout must be a timedelta"),
        ({"trigger_rule": "sometimes"}, "trigger_rule must be one of all_success, "),
        ({"inlets": ["orders"]}, "Asset objects"),
        ({"retires": 3}, r"unknown argument\(s\) \['retires'\]"),
        ({"multiple_outputs": "yes"}, "True or False"),
    ],
)
def test_bad_options_are_definition_errors(options: dict[str, Any], message: str) -> None:
    with DAG("d", start_date=START), pytest.raises(DagDefinitionError, match=message):
        EmptyOperator(task_id="t", **options)


def test_options_without_effect_are_kept_and_documented() -> None:
    with DAG("d", start_date=START):
        op = EmptyOperator(task_id="t", pool="big", queue="gpu", owner="me", priority_weight=9)
        other = EmptyOperator(task_id="u")
    assert (op.pool, op.queue, op.owner, op.priority_weight) == ("big", "gpu", "me", 9)
    assert (other.pool, other.owner, other.pool_slots) == ("default_pool", "airflow", 1)
    assert all(option.why for option in NO_EFFECT_OPTIONS.values())


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("depends_on_past", True),
        ("wait_for_downstream", True),
        ("ignore_first_depends_on_past", True),
        ("on_failure_callback", print),
        ("on_success_callback", [print]),
        ("retry_policy", object()),
        ("deferrable", True),
        ("mode", "reschedule"),
    ],
)
def test_options_that_would_change_the_result_are_refused(name: str, value: Any) -> None:
    with DAG("d", start_date=START), pytest.raises(UnsupportedFeatureError) as caught:
        EmptyOperator(task_id="t", **{name: value})
    assert caught.value.detail["feature"] == REFUSED_OPTIONS[name].what
    what = REFUSED_OPTIONS[name].what
    assert f"task 't': taskstate does not support {what}" in str(caught.value)


def test_refused_options_at_their_default_are_fine() -> None:
    defaults = {"depends_on_past": False, "on_failure_callback": None, "mode": "poke"}
    with DAG("d", start_date=START, default_args=defaults):
        op = EmptyOperator(task_id="t", wait_for_downstream=False)
    assert op.depends_on_past is False and op.wait_for_downstream is False


def test_default_args_fill_every_argument_the_operator_accepts() -> None:
    dag_defaults = {"retries": 1, "greeting": "hi", "owner": "team", "not_an_option": 1}
    with DAG("d", start_date=START, default_args=dag_defaults):
        plain = Greet(task_id="plain")
        with TaskGroup("g", default_args={"retries": 3, "names": ["a"]}):
            grouped = Greet(task_id="grouped")
            own = Greet(task_id="own", retries=5, default_args={"greeting": "yo"})
        empty = EmptyOperator(task_id="empty")
    assert (plain.retries, plain.greeting, plain.owner, plain.names) == (1, "hi", "team", None)
    assert (grouped.task_id, grouped.retries, grouped.names) == ("g.grouped", 3, ["a"])
    assert (own.retries, own.greeting) == (5, "yo")
    assert empty.retries == 1 and not hasattr(empty, "greeting")


def test_dag_and_default_args_come_from_the_block_or_are_given() -> None:
    with DAG("a", start_date=START) as a:
        pass
    op = EmptyOperator(task_id="t", dag=a)
    assert a.tasks == {"t": op}
    loose = EmptyOperator(task_id="loose")
    assert not loose.has_dag()
    with pytest.raises(DagDefinitionError, match="does not belong to a DAG"):
        _ = loose.dag
    loose.dag = a  # added afterwards, as Airflow allows
    assert a.tasks["loose"] is loose and loose.dag is a
    with pytest.raises(DagDefinitionError, match="already belongs to DAG 'a'"):
        loose.dag = DAG("c")
    with pytest.raises(DagDefinitionError, match="by keyword"):
        Greet("t")  # type: ignore[misc]
    with DAG("b", start_date=START):
        EmptyOperator(task_id="x")
        with pytest.raises(DagDefinitionError, match="already has a task"):
            EmptyOperator(task_id="x")


def test_outputs_given_as_arguments_or_set_later_make_their_tasks_upstream() -> None:
    @task
    def names() -> list[str]:
        return []

    with DAG("d", start_date=START):
        source = EmptyOperator(task_id="source")
        listed = names()
        op = Greet(task_id="op", greeting=source.output, names=[listed, "x"])
        later = Greet(task_id="later")
        later.greeting = XComArg(source, key="word")
    assert op.upstream_task_ids == {"source", "names"}
    assert later.upstream_task_ids == {"source"}
    assert op.output_task_ids == {"source", "names"} and op.output_keys == set()
    assert later.output_keys == {("source", "word")} and later.output_task_ids == set()

    prepared = op.prepare(-1, {"source": "hey", "names": ["ann", "bo"]})
    assert prepared is not op and (prepared.greeting, prepared.names) == (
        "hey",
        [["ann", "bo"], "x"],
    )
    assert op.greeting.operator is source  # the DAG's operator is left as it was
    assert prepared.execute({}) == "hey [['ann', 'bo'], 'x']"
    assert later.prepare(-1, {("source", "word"): "hi"}).greeting == "hi"
    with pytest.raises(DagDefinitionError, match="is not mapped; it has no map index 0"):
        op.prepare(0, {})


def test_pre_and_post_execute_hooks_run_around_execute() -> None:
    seen: list[Any] = []
    with DAG("d", start_date=START):
        op = Greet(
            task_id="t",
            pre_execute=lambda context: seen.append(("pre", context["k"])),
            post_execute=lambda context, result: seen.append(("post", result)),
        )
    assert op.run({"k": 1}) == "hello None"
    assert seen == [("pre", 1), ("post", "hello None")]


def test_a_single_templated_field_may_be_given_as_a_string() -> None:
    class One(BaseOperator):
        template_fields = "command"  # type: ignore[assignment]

    assert One.template_fields == ("command",)


def test_an_operator_without_execute_says_so() -> None:
    with DAG("d", start_date=START):
        op = BaseOperator(task_id="t")
    with pytest.raises(NotImplementedError, match="does not implement execute"):
        op.execute({})
