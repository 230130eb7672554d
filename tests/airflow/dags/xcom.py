"""XCom: ``ti.xcom_push`` with keys, ``ti.xcom_pull`` by task id(s), key and map index, pulls
from a mapped task, values pushed by mapped instances; ``multiple_outputs`` (given and
inferred from the return annotation); ``.override``; one task called twice (``add__1``);
``XComArg`` with a key and a classic operator's ``.output``."""

from __future__ import annotations

from datetime import datetime

from airflow.providers.standard.operators.python import PythonOperator
from airflow.sdk import DAG, XComArg, task

with DAG(dag_id="xcom", schedule=None, start_date=datetime(2026, 1, 1)):

    @task
    def pusher(ti=None):
        ti.xcom_push(key="color", value="blue")
        ti.xcom_push(key="sizes", value=[1, 2])
        return "returned"

    @task
    def numbers():
        return [1, 2, 3]

    @task
    def double(x, ti=None):
        ti.xcom_push(key="tenfold", value=x * 10)
        return x * 2

    @task
    def puller(ti=None):
        return {
            "color": ti.xcom_pull(task_ids="pusher", key="color"),
            "sizes": ti.xcom_pull(task_ids="pusher", key="sizes"),
            "returned": ti.xcom_pull(task_ids="pusher"),
            "several": ti.xcom_pull(task_ids=["pusher", "numbers"]),
            "missing_key": ti.xcom_pull(task_ids="pusher", key="nope"),
            "mapped": ti.xcom_pull(task_ids="double"),
            "mapped_one": ti.xcom_pull(task_ids="double", map_indexes=1),
            "mapped_some": ti.xcom_pull(task_ids="double", map_indexes=[0, 2]),
            "mapped_key": ti.xcom_pull(task_ids="double", key="tenfold"),
        }

    @task(multiple_outputs=True)
    def split():
        return {"a": 1, "b": [2, 3]}

    @task
    def inferred() -> dict[str, int]:
        return {"c": 4}

    @task
    def combine(a, b, c):
        return [a, b, c]

    @task
    def add(x, y):
        return x + y

    @task
    def echo(value):
        return value

    pushed = pusher()
    doubled = double.expand(x=numbers())
    [pushed, doubled] >> puller()
    parts = split()
    combine(parts["a"], parts["b"], inferred()["c"])
    add(1, 2)
    add(3, 4)
    add.override(task_id="add_renamed", retries=1)(5, 6)
    echo.override(task_id="color_arg")(XComArg(pushed.operator, key="color"))
    classic = PythonOperator(task_id="classic", python_callable=lambda: {"k": 5})
    echo.override(task_id="classic_output")(classic.output)
