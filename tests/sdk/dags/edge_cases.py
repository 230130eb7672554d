"""Less common shapes: empty groups, teardowns at a group's end, outputs of classic operators."""

from datetime import datetime, timedelta

from taskstate.sdk import (
    DAG,
    BashOperator,
    EmptyOperator,
    Label,
    PythonOperator,
    TaskGroup,
    XComArg,
    task,
    task_group,
)

with DAG(
    "sdk_edge_cases",
    start_date=datetime(2026, 1, 1),
    schedule=timedelta(hours=1),
    default_args={"trigger_rule": "all_done", "execution_timeout": timedelta(minutes=5)},
):
    first = EmptyOperator(task_id="first")
    with TaskGroup("empty") as empty:
        pass
    after_empty = EmptyOperator(task_id="after_empty")
    first >> empty >> after_empty

    with TaskGroup("with_teardown", default_args={"retries": 2}) as with_teardown:
        setup_op = EmptyOperator(task_id="setup_op").as_setup()
        body = EmptyOperator(task_id="body", trigger_rule="all_success")
        cleanup = EmptyOperator(task_id="cleanup").as_teardown(setups=setup_op)
        setup_op >> body >> cleanup
    after_empty >> with_teardown >> EmptyOperator(task_id="after_teardown_group")

    push = BashOperator(task_id="push", bash_command="echo 1")
    pull = BashOperator(task_id="pull", bash_command=f"echo {XComArg(push)}")
    later = BashOperator(task_id="later", bash_command="echo later")
    later.bash_command = push.output

    @task
    def consume(value, retries=None):
        return value

    consume(push.output)
    consume.override(task_id="consume_item")(XComArg(push)["k"])
    python_op = PythonOperator(task_id="python_op", python_callable=print, op_args=[push.output])

    @task_group
    def pair():
        return [EmptyOperator(task_id="left"), EmptyOperator(task_id="right")]

    first >> Label("two") >> pair()
    [first, push] >> Label("many") >> EmptyOperator(task_id="joined")

    @task
    def numbers():
        return [1, 2]

    @task
    def show(x, y=0):
        return x + y

    show.expand(x=[numbers(), 3])
    show.override(task_id="show_kwargs").expand_kwargs(numbers())

    @task_group
    def mapped_kwargs(x, y):
        show(x, y)

    mapped_kwargs.expand_kwargs([{"x": 1, "y": 2}, {"x": 3, "y": 4}])
