"""What taskstate already ran before issue 10: outputs passed on, a mapped task with a retry,
a failure and the task it holds back. The harness's own check: it must pass on every branch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk import DAG, task

with DAG(dag_id="basics", schedule=None, start_date=datetime(2026, 1, 1, tzinfo=UTC)):

    @task
    def numbers():
        return [1, 2, 3]

    @task(retries=1, retry_delay=timedelta(seconds=0))
    def square(x, ti=None):
        if x == 2 and ti.try_number == 1:
            raise RuntimeError("the first try of 2 fails")
        return x * x

    @task
    def total(values):
        return {"sum": sum(values), "values": list(values)}

    @task
    def broken():
        raise ValueError("this task fails")

    @task
    def held_back(value):
        return value

    total(square.expand(x=numbers()))
    held_back(broken())
