"""Short-circuiting: ``@task.short_circuit`` and ``ShortCircuitOperator`` with a truthy and a
falsy condition, with ``ignore_downstream_trigger_rules`` left True (every downstream task is
skipped, whatever its trigger rule) and set False (only the direct downstream tasks are; the
tasks after them follow their trigger rules)."""

from __future__ import annotations

from datetime import datetime

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.providers.standard.operators.python import ShortCircuitOperator
from airflow.sdk import DAG, TriggerRule, chain, task

with DAG(dag_id="short_circuit", schedule=None, start_date=datetime(2026, 1, 1)):

    @task.short_circuit
    def condition(value):
        return value

    @task
    def other():
        return "other ran"

    def downstream(prefix, short):
        """``short >> direct >> [default, all_done]``, and a join with another upstream."""
        direct = EmptyOperator(task_id=f"{prefix}_direct")
        default = EmptyOperator(task_id=f"{prefix}_default")
        all_done = EmptyOperator(task_id=f"{prefix}_all_done", trigger_rule=TriggerRule.ALL_DONE)
        mixed = EmptyOperator(
            task_id=f"{prefix}_mixed", trigger_rule=TriggerRule.NONE_FAILED_MIN_ONE_SUCCESS
        )
        chain(short, direct, [default, all_done])
        [direct, other.override(task_id=f"{prefix}_other")()] >> mixed

    downstream("go", condition.override(task_id="go")({"non": "empty"}))
    downstream("stop", condition.override(task_id="stop")(0))
    downstream(
        "soft_stop",
        condition.override(task_id="soft_stop", ignore_downstream_trigger_rules=False)([]),
    )
    downstream(
        "classic_stop",
        ShortCircuitOperator(task_id="classic_stop", python_callable=lambda: False),
    )
    downstream(
        "classic_go",
        ShortCircuitOperator(task_id="classic_go", python_callable=lambda: "yes"),
    )
