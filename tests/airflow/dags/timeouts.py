"""``execution_timeout``: a try that runs over is stopped and fails (with and without a retry,
set on the task and in ``default_args``); tasks well within their limit succeed."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG, task

with DAG(
    dag_id="timeouts",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    default_args={"execution_timeout": timedelta(seconds=20)},
):

    @task(execution_timeout=timedelta(seconds=1))
    def too_slow():
        time.sleep(6)
        return "never"

    @task(execution_timeout=timedelta(seconds=1), retries=1, retry_delay=timedelta(seconds=0))
    def too_slow_twice():
        time.sleep(6)

    @task
    def in_time():
        return "in time"

    @task
    def after(value):
        return value

    after(too_slow())
    too_slow_twice()
    in_time()
    BashOperator(
        task_id="bash_too_slow", bash_command="sleep 6", execution_timeout=timedelta(seconds=1)
    )
