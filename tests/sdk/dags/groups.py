"""Task groups and dependency helpers, written as a converted Airflow DAG file would be."""

from datetime import datetime, timedelta

from taskstate.sdk import (
    DAG,
    BashOperator,
    EmptyOperator,
    Label,
    TaskGroup,
    chain,
    chain_linear,
    cross_downstream,
    task,
    task_group,
)

with DAG(
    "sdk_groups",
    start_date=datetime(2026, 1, 1),
    schedule="@daily",
    default_args={"retries": 1, "retry_delay": timedelta(seconds=5)},
):
    start = EmptyOperator(task_id="start")

    @task
    def work(n: int) -> int:
        return n

    with TaskGroup("extract", tooltip="extract", default_args={"retries": 3}) as extract:
        a = work(1)
        b = work(2)
        with TaskGroup("inner") as inner:
            c = work(3)
            d = BashOperator(task_id="d", bash_command="echo d")
            c >> d
        a >> inner
        b >> inner

    with TaskGroup("flat", prefix_group_id=False) as flat:
        e = EmptyOperator(task_id="e")
        f = EmptyOperator(task_id="f", retries=0)
        e >> f

    @task_group
    def load(value: int):
        first = work(value)
        return work(first)

    @task_group(group_id="report")
    def report():
        EmptyOperator(task_id="one")
        EmptyOperator(task_id="two")

    start >> extract >> flat
    loaded_1 = load(10)
    loaded_2 = load(20)
    flat >> [loaded_1, loaded_2]
    reports = report()
    loaded_1 >> Label("then") >> reports
    with TaskGroup("late"), TaskGroup("nested") as nested:
        EmptyOperator(task_id="n1")
    loaded_2 >> Label("cross") >> nested

    end = EmptyOperator(task_id="end", trigger_rule="none_failed")
    reports >> end

    x = [EmptyOperator(task_id=f"x{i}") for i in range(3)]
    y = [EmptyOperator(task_id=f"y{i}") for i in range(3)]
    z = [EmptyOperator(task_id=f"z{i}") for i in range(2)]
    chain(end, x, y)
    chain_linear(y, z, EmptyOperator(task_id="after_z"))
    cross_downstream([EmptyOperator(task_id="p0"), EmptyOperator(task_id="p1")], z)
