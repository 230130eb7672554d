"""Setup and teardown tasks, one DAG per case, since each ends its run differently: the work
fails; the setup fails; the teardown fails; the teardown fails with
``on_failure_fail_dagrun=True``. The styles vary: ``@setup``/``@teardown`` with ``with
teardown(setup)``, ``.as_setup()``/``.as_teardown(setups=...)`` on operators and tasks."""

from __future__ import annotations

from datetime import datetime

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG, setup, task, teardown


@task
def work(fail=False):
    if fail:
        raise ValueError("the work fails")
    return "worked"


@task
def report():
    return "reported"


with DAG(dag_id="st_work_fails", schedule=None, start_date=datetime(2026, 1, 1)):

    @setup
    def create_cluster():
        return "cluster-1"

    @teardown
    def delete_cluster(cluster_id):
        return f"deleted {cluster_id}"

    cluster = create_cluster()
    with delete_cluster(cluster):
        failed = work(fail=True)
        fine = work.override(task_id="other_work")()
    failed >> report()


with DAG(dag_id="st_setup_fails", schedule=None, start_date=datetime(2026, 1, 1)):

    @setup
    def create_broken():
        raise RuntimeError("the setup fails")

    @setup
    def create_fine():
        return "fine"

    @teardown
    def delete_all():
        return "deleted"

    broken, ok = create_broken(), create_fine()
    done = work()
    [broken, ok] >> done >> delete_all().as_teardown(setups=[broken, ok])
    done >> report()


with DAG(dag_id="st_teardown_fails", schedule=None, start_date=datetime(2026, 1, 1)):
    up = BashOperator(task_id="up", bash_command="echo up").as_setup()
    down = BashOperator(task_id="down", bash_command="echo down; exit 3").as_teardown(setups=up)
    up >> work() >> down


with DAG(dag_id="st_teardown_fails_dagrun", schedule=None, start_date=datetime(2026, 1, 1)):
    up = BashOperator(task_id="up", bash_command="echo up").as_setup()
    down = BashOperator(task_id="down", bash_command="exit 3").as_teardown(
        setups=up, on_failure_fail_dagrun=True
    )
    up >> work() >> down
