"""Branches, short circuits and trigger rules."""

from datetime import datetime

from taskstate.sdk import (
    DAG,
    BaseBranchOperator,
    BranchPythonOperator,
    EmptyOperator,
    ShortCircuitOperator,
    TaskGroup,
    TriggerRule,
    task,
)


class ChooseGroup(BaseBranchOperator):
    def choose_branch(self, context):
        return "left_group"


with DAG("sdk_branching", start_date=datetime(2026, 1, 1), schedule=None):

    @task.branch
    def pick() -> str:
        return "path_a"

    path_a = EmptyOperator(task_id="path_a")
    path_b = EmptyOperator(task_id="path_b")
    join = EmptyOperator(task_id="join", trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS)
    pick() >> [path_a, path_b] >> join

    chooser = ChooseGroup(task_id="chooser")
    with TaskGroup("left_group") as left:
        EmptyOperator(task_id="l1") >> EmptyOperator(task_id="l2")
    right = EmptyOperator(task_id="right")
    chooser >> [left, right]

    python_branch = BranchPythonOperator(task_id="python_branch", python_callable=lambda: None)
    python_branch >> [EmptyOperator(task_id="never_1"), EmptyOperator(task_id="never_2")]

    @task.short_circuit(ignore_downstream_trigger_rules=False)
    def gate() -> bool:
        return False

    after_gate = EmptyOperator(task_id="after_gate")
    always = EmptyOperator(task_id="always", trigger_rule="all_done")
    gate() >> after_gate >> always

    short = ShortCircuitOperator(task_id="short", python_callable=lambda: True)
    short >> EmptyOperator(task_id="after_short")

    @task(trigger_rule="one_failed", retries=4)
    def on_failure() -> None: ...

    [path_a, path_b] >> on_failure()
