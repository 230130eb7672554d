"""Dynamic task mapping: ``partial`` + ``expand`` over an upstream output, over two literal
lists (their product), ``expand_kwargs``, an empty list, a mapped instance that fails, a
mapped classic operator, and a mapped task group whose tasks map together."""

from __future__ import annotations

from datetime import datetime

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG, task, task_group

with DAG(dag_id="mapping", schedule=None, start_date=datetime(2026, 1, 1)):

    @task
    def numbers():
        return [1, 2, 3]

    @task
    def nothing():
        return []

    @task
    def pairs():
        return [{"x": 1, "y": 2}, {"x": 3, "y": 4}]

    @task
    def add(x, y):
        return x + y

    @task
    def total(values):
        return sum(values)

    @task
    def check(x):
        if x == 2:
            raise ValueError("2 is not allowed")
        return x

    total(add.partial(y=10).expand(x=numbers()))
    add.override(task_id="product").expand(x=[1, 2], y=[10, 20])
    add.override(task_id="by_kwargs").expand_kwargs(pairs())
    total.override(task_id="total_of_nothing")(
        add.override(task_id="over_nothing").partial(y=1).expand(x=nothing())
    )
    total.override(task_id="total_checked")(check.expand(x=[1, 2, 3]))
    BashOperator.partial(task_id="echo").expand(bash_command=["echo a", "echo b"])

    @task
    def inc(n):
        return n + 1

    @task
    def square(n):
        return n * n

    @task_group
    def per_item(n):
        return square(inc(n))

    total.override(task_id="total_of_group")(per_item.expand(n=[1, 2, 3]))
