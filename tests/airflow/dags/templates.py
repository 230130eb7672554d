"""Jinja templates in templated fields: dates, params, ``ti.xcom_pull``, macros and
user-defined macros, a template file found through ``template_searchpath``
(``templates/``), ``PythonOperator``'s ``op_args``, ``op_kwargs`` and ``templates_dict`` with
``templates_exts``, TaskFlow arguments, a ``BaseOperator`` subclass's ``template_fields``
(nested in a list), ``env``; and a DAG rendering native objects. Run with the logical date
2026-01-02T03:04:05+00:00."""

from __future__ import annotations

import os
from datetime import datetime

from airflow.providers.standard.operators.bash import BashOperator
from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG, BaseOperator, task

HERE = os.path.dirname(os.path.abspath(__file__))


class Greet(BaseOperator):
    template_fields = ("greeting", "numbers")

    def __init__(self, *, greeting, numbers, **kwargs):
        super().__init__(**kwargs)
        self.greeting = greeting
        self.numbers = numbers

    def execute(self, context):
        return {"greeting": self.greeting, "numbers": self.numbers}


def python_callable(day, n, templates_dict):
    return {"day": day, "n": n, "query": templates_dict["query"]}


with DAG(
    dag_id="templates",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    params={"name": "world", "n": 3},
    template_searchpath=[os.path.join(HERE, "templates")],
    user_defined_macros={"shout": lambda text: text.upper()},
):

    @task
    def source():
        return {"rows": 42}

    @task
    def taskflow(day, greeting):
        return [day, greeting]

    pulled = BashOperator(
        task_id="pulled", bash_command="echo {{ ti.xcom_pull(task_ids='source')['rows'] }}"
    )
    source() >> pulled
    BashOperator(
        task_id="dates",
        bash_command="echo {{ ds }} {{ ds_nodash }} {{ ts }} {{ ts_nodash }} "
        "{{ logical_date.year }} {{ data_interval_start }} {{ macros.ds_add(ds, 1) }}",
    )
    BashOperator(
        task_id="names", bash_command="echo {{ dag.dag_id }} {{ task.task_id }} {{ ti.task_id }}"
    )
    BashOperator(task_id="params", bash_command="echo hello {{ params.name }} {{ params.n * 2 }}")
    BashOperator(task_id="from_file", bash_command="greet.sh")
    BashOperator(
        task_id="env", bash_command='echo "$GREETING"', env={"GREETING": "hi {{ params.name }}"}
    )
    PythonOperator(
        task_id="python_op",
        python_callable=python_callable,
        op_args=["{{ ds }}"],
        op_kwargs={"n": "{{ params.n }}"},
        templates_dict={"query": "query.sql"},
        templates_exts=[".sql"],
    )
    taskflow("{{ ds }}", greeting="{{ params.name }}!")
    Greet(task_id="custom", greeting="{{ shout(params.name) }}", numbers=["{{ params.n }}", 2])


with DAG(
    dag_id="templates_native",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    params={"n": 3},
    render_template_as_native_obj=True,
):

    @task
    def typed(doubled, items):
        return {"doubled": doubled, "type": type(doubled).__name__, "items": items}

    typed("{{ params.n * 2 }}", "{{ [params.n, 'x'] }}")
