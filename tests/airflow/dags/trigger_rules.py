"""Every trigger rule against upstream tasks that end success, failed, skipped and
upstream_failed: one join task per rule and upstream combination, named ``<combo>__<rule>``
(``s``, ``f``, ``k`` and ``u`` for the four states)."""

from __future__ import annotations

from datetime import datetime

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG, TriggerRule, task
from airflow.sdk.exceptions import AirflowSkipException

COMBOS = {
    "trigger_rules_single": ["s", "f", "k", "u"],
    "trigger_rules_pairs": ["sf", "sk", "su", "fk", "fu", "ku"],
}

for dag_id, combos in COMBOS.items():
    with DAG(dag_id=dag_id, schedule=None, start_date=datetime(2026, 1, 1)):

        @task
        def succeed() -> str:
            return "done"

        @task
        def fail() -> None:
            raise ValueError("this task fails")

        @task
        def skip() -> None:
            raise AirflowSkipException("this task skips")

        ok = succeed()
        failed = fail()
        skipped = skip()
        blocked = EmptyOperator(task_id="blocked")  # upstream_failed: its upstream failed
        failed >> blocked
        upstream = {"s": ok, "f": failed, "k": skipped, "u": blocked}

        for combo in combos:
            for rule in TriggerRule:
                join = EmptyOperator(task_id=f"{combo}__{rule.value}", trigger_rule=rule)
                for state in combo:
                    upstream[state] >> join
