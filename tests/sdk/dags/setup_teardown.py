"""Setup and teardown tasks, written as a converted Airflow DAG file would be."""

from datetime import datetime

from taskstate.sdk import DAG, BashOperator, EmptyOperator, TaskGroup, setup, task, teardown

with DAG("sdk_setup_teardown", start_date=datetime(2026, 1, 1), schedule=None):

    @setup
    def create_cluster() -> str:
        return "cluster-1"

    @teardown(on_failure_fail_dagrun=True)
    def delete_cluster(cluster: str) -> None: ...

    @task
    def work(cluster: str) -> None: ...

    @task
    def plain() -> None: ...

    cluster = create_cluster()
    with delete_cluster(cluster):
        work(cluster)
        plain() >> plain()

    root_setup = BashOperator(task_id="root_setup", bash_command="echo up").as_setup()
    root_teardown = BashOperator(task_id="root_teardown", bash_command="echo down").as_teardown(
        setups=root_setup
    )
    with root_setup >> root_teardown:
        normal = EmptyOperator(task_id="normal")
        with TaskGroup("section") as section:
            inner_setup = EmptyOperator(task_id="inner_setup").as_setup()
            inner_teardown = EmptyOperator(task_id="inner_teardown").as_teardown(setups=inner_setup)
            inner_setup >> EmptyOperator(task_id="inner_work") >> inner_teardown
        normal >> section

    @setup
    def outer_setup() -> str:
        return "outer"

    @teardown
    def outer_teardown(resource: str) -> None: ...

    @task
    def inner_setup_fn() -> None: ...

    @task
    def inner_teardown_fn() -> None: ...

    with outer_teardown(outer_setup()):
        s = inner_setup_fn().as_setup()
        with inner_teardown_fn().as_teardown(setups=s):
            plain()
        section >> EmptyOperator(task_id="after_section")
