"""Branching and how its skips propagate: ``@task.branch`` choosing one task, a list, a task
group (its root tasks), a task inside a group, or nothing; a ``BranchPythonOperator``; joins
downstream with ``all_success``, ``none_failed_min_one_success`` and ``all_done``; a branch
that fails."""

from __future__ import annotations

from datetime import datetime

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.providers.standard.operators.python import BranchPythonOperator
from airflow.sdk import DAG, TaskGroup, TriggerRule, task

with DAG(dag_id="branching", schedule=None, start_date=datetime(2026, 1, 1)):

    @task.branch
    def pick_one():
        return "one_a"

    @task.branch
    def pick_list():
        return ["list_a", "list_c"]

    @task.branch
    def pick_group():
        return "group_a"

    @task.branch
    def pick_in_group():
        return "group_c.second"

    @task.branch
    def pick_nothing():
        return None

    @task.branch
    def pick_fails():
        raise ValueError("the branch callable fails")

    @task
    def work(name):
        return f"ran {name}"

    # One task chosen: the other and its all_success chain are skipped; joins follow their rules.
    one = pick_one()
    one_a, one_b = EmptyOperator(task_id="one_a"), EmptyOperator(task_id="one_b")
    after_b = work.override(task_id="after_b")("after_b")
    join_min_one = EmptyOperator(
        task_id="one_join_min_one", trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS
    )
    join_all = EmptyOperator(task_id="one_join_all_success")
    join_done = EmptyOperator(task_id="one_join_all_done", trigger_rule=TriggerRule.ALL_DONE)
    one >> [one_a, one_b]
    one_b >> after_b
    [one_a, after_b] >> join_min_one
    [one_a, after_b] >> join_all
    [one_a, after_b] >> join_done

    # A list of tasks.
    chosen = pick_list()
    for name in ("list_a", "list_b", "list_c"):
        chosen >> work.override(task_id=name)(name)

    # A group by its id (its root tasks run), or a task inside a group by its full id.
    with TaskGroup("group_a") as group_a:
        EmptyOperator(task_id="first") >> work.override(task_id="second")("group_a")
    with TaskGroup("group_b") as group_b:
        EmptyOperator(task_id="first") >> work.override(task_id="second")("group_b")
    pick_group() >> [group_a, group_b]
    with TaskGroup("group_c") as group_c:
        first_c = EmptyOperator(task_id="first")
        second_c = EmptyOperator(task_id="second")
    pick_in_group() >> group_c
    [first_c, second_c] >> EmptyOperator(
        task_id="after_group_c", trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS
    )

    # Nothing chosen: every direct downstream task is skipped.
    nothing = pick_nothing()
    nothing >> [EmptyOperator(task_id="nothing_a"), EmptyOperator(task_id="nothing_b")]

    # The classic operator.
    classic = BranchPythonOperator(task_id="classic", python_callable=lambda: "classic_b")
    classic >> [EmptyOperator(task_id="classic_a"), EmptyOperator(task_id="classic_b")]

    # A branch that fails: its downstream tasks are upstream_failed.
    pick_fails() >> [EmptyOperator(task_id="fails_a"), EmptyOperator(task_id="fails_b")]
