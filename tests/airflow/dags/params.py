"""Params: DAG params with ``Param`` (JSON Schema) and plain values, a task's own params over
the DAG's, read from the context and in a template; run once as declared and once with
``--conf`` overriding some of them."""

from __future__ import annotations

from datetime import datetime

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG, Param, task

with DAG(
    dag_id="params",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    params={
        "x": Param(5, type="integer", minimum=0),
        "name": Param("world", type="string"),
        "tags": Param(["a"], type="array"),
        "plain": "as given",
    },
):

    @task
    def show(params=None, dag_run=None):
        return {
            "params": {key: params[key] for key in sorted(params)},
            "conf": dag_run.conf,
        }

    @task(params={"x": 100, "own": True})
    def own_params(params=None):
        return {key: params[key] for key in sorted(params)}

    show()
    own_params()
    BashOperator(task_id="templated", bash_command="echo {{ params.x }} {{ params.name }}")
