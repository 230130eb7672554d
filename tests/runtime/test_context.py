"""The context a task receives: Airflow's keys and values, built from the start-up frame, and
how a task function is given the entries it asks for."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from taskstate.contracts.frames import StartTask
from taskstate.contracts.types import DagRunInfo, TaskInstanceInfo
from taskstate.errors import ParamValidationError, UsageError
from taskstate.runtime import macros
from taskstate.runtime.comms import SupervisorComms
from taskstate.runtime.connections import ConnectionAccessor
from taskstate.runtime.context import build_context
from taskstate.runtime.variables import VariableAccessor
from taskstate.sdk import DAG, Asset, Param, task
from taskstate.sdk.callables import determine_kwargs
from taskstate.sdk.task import Task

from .conftest import FrameServer

Served = tuple[SupervisorComms, FrameServer]

ORDERS = Asset(name="orders", uri="s3://lake/orders")
DATED = DagRunInfo(
    logical_date="2026-03-01T06:30:00+00:00",
    data_interval_start="2026-03-01T06:30:00+00:00",
    data_interval_end="2026-03-01T06:30:00+00:00",
    conf=b'{"x": 2}',
    start_date="2026-03-02T10:00:00.123456+00:00",
)
UNDATED = DagRunInfo(None, None, None, b"{}", "2026-03-02T10:00:00+00:00")


def make_task(**options: Any) -> tuple[DAG, Task]:
    with DAG(dag_id="d", start_date=datetime(2026, 1, 1, tzinfo=UTC)) as dag:

        @task(retries=2, outlets=[ORDERS], **options)
        def own(x: int = 0) -> None: ...

        made = own()
    return dag, made


def start(run: DagRunInfo = DATED) -> StartTask:
    return StartTask(
        ti=TaskInstanceInfo("ti-1", "d", "r", "own", -1, 2),
        dag_file="/dags/d.py",
        assets=[],
        max_value_bytes=1000,
        dag_run=run,
    )


def context_of(comms: SupervisorComms, run: DagRunInfo = DATED, **dag_attrs: Any) -> Any:
    dag, own = make_task()
    for name, value in dag_attrs.items():
        setattr(dag, name, value)
    return build_context(start(run), dag, own, comms, None)


def test_the_keys_of_a_dated_run(served: Served) -> None:
    context = context_of(served[0])
    assert sorted(context) == [
        "asset_state",
        "asset_state_store",
        "conn",
        "dag",
        "dag_run",
        "data_interval_end",
        "data_interval_start",
        "ds",
        "ds_nodash",
        "inlet_events",
        "inlets",
        "logical_date",
        "macros",
        "map_index",
        "outlet_events",
        "outlets",
        "params",
        "run_id",
        "task",
        "task_instance",
        "task_instance_key_str",
        "task_state",
        "task_state_store",
        "ti",
        "ts",
        "ts_nodash",
        "ts_nodash_with_tz",
        "var",
    ]


def test_dates_as_airflow_writes_them(served: Served) -> None:
    context = context_of(served[0])
    when = datetime(2026, 3, 1, 6, 30, tzinfo=UTC)
    assert context["logical_date"] == when
    assert context["logical_date"].add(days=1) == when + timedelta(days=1)  # a pendulum date
    assert context["ds"] == "2026-03-01"
    assert context["ds_nodash"] == "20260301"
    assert context["ts"] == "2026-03-01T06:30:00+00:00"
    assert context["ts_nodash"] == "20260301T063000"
    assert context["ts_nodash_with_tz"] == "20260301T063000+0000"
    assert context["data_interval_start"] == context["data_interval_end"] == when
    assert context["task_instance_key_str"] == "d__own__20260301"


def test_a_run_without_a_logical_date_has_no_date_keys(served: Served) -> None:
    context = context_of(served[0], UNDATED)
    for key in ("logical_date", "ds", "ts", "data_interval_start", "task_instance_key_str"):
        assert key not in context
    assert context["dag_run"].logical_date is None
    assert context["dag_run"].run_after == datetime(2026, 3, 2, 10, tzinfo=UTC)
    assert context["dag_run"].conf == {}


def test_dag_run(served: Served) -> None:
    dag_run = context_of(served[0])["dag_run"]
    assert (dag_run.dag_id, dag_run.run_id, dag_run.run_type) == ("d", "r", "manual")
    assert dag_run.conf == {"x": 2}
    assert dag_run.logical_date == datetime(2026, 3, 1, 6, 30, tzinfo=UTC)
    assert dag_run.data_interval_start == dag_run.data_interval_end == dag_run.logical_date
    assert dag_run.start_date == datetime(2026, 3, 2, 10, 0, 0, 123456, tzinfo=UTC)
    assert dag_run.run_after == dag_run.logical_date


def test_ti_and_its_airflow_attributes(served: Served) -> None:
    context = context_of(served[0])
    ti = context["ti"]
    assert context["task_instance"] is ti
    assert (ti.id, ti.dag_id, ti.run_id, ti.task_id) == ("ti-1", "d", "r", "own")
    assert (ti.map_index, ti.try_number, ti.max_tries) == (-1, 2, 2)
    assert ti.task is context["task"]
    assert ti.logical_date == context["logical_date"]
    assert ti.log.name == "taskstate.task"
    assert (context["map_index"], context["run_id"]) == (-1, "r")
    assert "try_number" not in context  # Airflow 3.3.2 has it on ti only


def test_xcom_pull_refuses_other_runs_and_prior_dates(served: Served) -> None:
    comms, _ = served
    ti = context_of(comms)["ti"]
    with pytest.raises(UsageError, match="own DAG run only"):
        ti.xcom_pull(task_ids="extract", run_id="other")
    with pytest.raises(UsageError, match="include_prior_dates"):
        ti.xcom_pull(task_ids="extract", include_prior_dates=True)


def test_the_state_accessors_answer_to_both_names(served: Served) -> None:
    context = context_of(served[0])
    assert context["task_state_store"] is context["task_state"]
    assert context["asset_state_store"] is context["asset_state"]
    context["task_state_store"].set("k", 1)
    assert context["task_state"].get("k") == 1
    assert list(context["asset_state"]) == ["orders"]
    assert context["outlets"] == [ORDERS] and context["inlets"] == []


def test_macros_var_and_conn(served: Served) -> None:
    context = context_of(served[0])
    assert context["macros"] is macros
    assert isinstance(context["var"]["value"], VariableAccessor)
    assert isinstance(context["var"]["json"], VariableAccessor)
    assert isinstance(context["conn"], ConnectionAccessor)


def test_params_with_the_conf_over_them(served: Served) -> None:
    declared = {"x": Param(1, type="integer"), "label": "a"}
    context = context_of(served[0], params=declared, default_args={"params": {"label": "b"}})
    assert context["params"] == {"x": 2, "label": "b"}  # conf {"x": 2}
    assert context_of(served[0], UNDATED, params=declared)["params"] == {"x": 1, "label": "a"}


def test_params_the_schema_refuses_fail_the_context(served: Served) -> None:
    with pytest.raises(ParamValidationError, match="param 'x': 2 is not of type 'string'"):
        context_of(served[0], params={"x": Param("one", type="string")})


def test_a_task_params_come_after_the_dag_params(served: Served) -> None:
    dag, own = make_task()
    dag.params = {"a": 1, "b": 1}  # type: ignore[attr-defined]
    own.params = {"b": 2}  # type: ignore[attr-defined]
    context = build_context(start(UNDATED), dag, own, served[0], None)
    assert context["params"] == {"a": 1, "b": 2}


# -- the context keys a task function takes ------------------------------------------------


def run_with(function: Any, context: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
    return function(*args, **determine_kwargs(function, args, {**context, **kwargs}))


CONTEXT = {"ti": "TI", "params": {"p": 1}, "task_state_store": "STORE", "ds": "2026-03-01"}


def test_parameters_named_like_keys_get_them_with_or_without_defaults() -> None:
    def f(x, ti, task_state_store=None, params=None):  # type: ignore[no-untyped-def]
        return (x, ti, task_state_store, params)

    assert run_with(f, CONTEXT, 1) == (1, "TI", "STORE", {"p": 1})


def test_arguments_of_the_call_win_over_the_context() -> None:
    def f(ti=None, ds=None):  # type: ignore[no-untyped-def]
        return (ti, ds)

    assert run_with(f, CONTEXT, "mine") == ("mine", "2026-03-01")
    assert run_with(f, CONTEXT, ds="x") == ("TI", "x")


def test_var_positional_does_not_hide_keyword_parameters() -> None:
    def f(*values, ti=None):  # type: ignore[no-untyped-def]
        return (values, ti)

    assert run_with(f, CONTEXT, 1, 2) == ((1, 2), "TI")


def test_var_keyword_gets_everything_and_positional_only_names_nothing() -> None:
    def f(ti, /, **context):  # type: ignore[no-untyped-def]
        return (ti, sorted(context))

    # "ti" is filled by the call's first argument, so the context's stays out.
    assert run_with(f, CONTEXT, "first") == ("first", ["ds", "params", "task_state_store"])

    def g(params, /):  # type: ignore[no-untyped-def]
        return params

    assert run_with(g, CONTEXT, "own") == "own"

    def h(*params):  # type: ignore[no-untyped-def]
        return params

    assert run_with(h, CONTEXT) == ()
