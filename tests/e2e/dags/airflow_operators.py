"""Airflow-style DAG (imports as a converted Airflow file has them): classic operators, a
mapped task group passing each instance's output on, setup/teardown, a mapped BashOperator."""

from datetime import datetime

from taskstate.sdk import (
    DAG,
    BashOperator,
    EmptyOperator,
    Label,
    PythonOperator,
    TaskGroup,
    get_current_context,
    setup,
    task,
    task_group,
    teardown,
)


def double(value):
    return int(value) * 2


with DAG(
    "e2e_airflow_operators",
    start_date=datetime(2026, 1, 1),
    schedule="@daily",
    default_args={"retries": 0, "owner": "data", "depends_on_past": False},
):
    start = EmptyOperator(task_id="start")
    echo = BashOperator(
        task_id="echo", bash_command='echo "hello $WHO"; echo 21', env={"WHO": "you"}
    )
    doubled = PythonOperator(task_id="double", python_callable=double, op_args=[echo.output])

    @task
    def numbers():
        return [1, 2, 3]

    @task
    def square(n):
        return n * n

    @task
    def label(squared):
        index = get_current_context()["map_index"]
        print(f"label map_index={index} squared={squared}")
        return f"{index}:{squared}"

    @task_group
    def per_number(n):
        return label(square(n))

    @task
    def collect(labels, total):
        print(f"collected {labels} and {total}")
        return labels

    @setup
    def create():
        return "resource"

    @teardown
    def delete(resource):
        print(f"deleted {resource}")

    resource = create()
    with delete(resource):
        collected = collect(per_number.expand(n=numbers()), doubled.output)

    with TaskGroup("shell") as shell:
        BashOperator.partial(task_id="each").expand(bash_command=["echo one", "echo two"])

    start >> echo
    doubled >> Label("then") >> shell
