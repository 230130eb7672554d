"""The context of a task: Airflow's keys and values for a run with a logical date
(2026-01-02T03:04:05+00:00) and a conf, a naive ``start_date`` (UTC), ``default_args``,
``get_current_context()``, and the keys a mapped instance sees."""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, Asset, get_current_context, task

KEYS = [
    "asset_state_store", "conn", "dag", "dag_run", "data_interval_end", "data_interval_start",
    "ds", "ds_nodash", "inlet_events", "inlets", "logical_date", "macros", "outlet_events",
    "outlets", "params", "run_id", "task", "task_instance", "task_state_store", "ti",
    "try_number", "ts", "ts_nodash", "var",
]  # fmt: skip
seen = Asset(name="seen", uri="file:///tmp/seen")

with DAG(
    dag_id="context",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    default_args={"retries": 1, "retry_delay": timedelta(seconds=0)},
    params={"p": 1},
):

    @task(inlets=[seen], outlets=[seen])
    def values(
        ds=None, ds_nodash=None, ts=None, ts_nodash=None, logical_date=None,
        data_interval_start=None, data_interval_end=None, params=None, dag_run=None, ti=None,
        task_instance=None, task=None, dag=None, run_id=None, inlets=None, outlets=None,
    ):  # fmt: skip
        context = get_current_context()
        return {
            "keys": {key: key in context for key in KEYS},
            "ds": [ds, ds_nodash, ts, ts_nodash],
            "logical_date": logical_date.isoformat(),
            "interval": [data_interval_start.isoformat(), data_interval_end.isoformat()],
            "params": dict(params),
            "conf": dag_run.conf,
            "run": [dag_run.logical_date.isoformat(), run_id == dag_run.run_id],
            "ti": [ti.task_id, ti.map_index, ti.try_number, ti is task_instance],
            "task": [task.task_id, task.retries, dag.dag_id],
            "assets": [[a.name for a in inlets], [a.name for a in outlets]],
            "current": context["ds"],
        }

    @task
    def mapped(x, ti=None):
        if ti.try_number == 1 and x == "b":
            raise RuntimeError("b fails its first try")
        return [x, ti.map_index, ti.try_number]

    values()
    mapped.expand(x=["a", "b"])
