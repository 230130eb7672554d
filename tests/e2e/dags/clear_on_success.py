"""One task that succeeds and one that fails, both after storing state."""

from datetime import UTC, datetime

from taskstate.sdk import DAG, task

with DAG(dag_id="e2e_clear_on_success", start_date=datetime(2026, 1, 1, tzinfo=UTC)):

    @task
    def succeeds(task_state):
        task_state.set("cursor", 41)
        task_state.set("note", "kept unless cleared on success")

    @task
    def fails(task_state):
        task_state.set("cursor", 7)
        raise RuntimeError("fails after set")

    succeeds()
    fails()
