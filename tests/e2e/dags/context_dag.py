"""What a task receives: ``ti`` and the other context keys, by name or as ``**context``."""

import json
import os
from datetime import UTC, datetime

from taskstate.sdk import DAG, task


def _ti(ti):
    return {
        "id": ti.id,
        "dag_id": ti.dag_id,
        "run_id": ti.run_id,
        "task_id": ti.task_id,
        "map_index": ti.map_index,
        "try_number": ti.try_number,
    }


with DAG(dag_id="e2e_context", start_date=datetime(2026, 1, 1, tzinfo=UTC)):

    @task(retries=1)
    def named(task_state, ti, run_id, dag_run, map_index):
        seen = {
            "ti": _ti(ti),
            "run_id": run_id,
            "dag_run": {"dag_id": dag_run.dag_id, "run_id": dag_run.run_id},
            "map_index": map_index,
        }
        print("CONTEXT " + json.dumps(seen, sort_keys=True))
        if ti.try_number == 1:
            task_state.set("first_ti_id", ti.id)
            raise RuntimeError("named: fail try 1 to get a second try")
        assert task_state.get("first_ti_id") == ti.id

    @task
    def everything(**context):
        ti = context["ti"]
        seen = {
            "ti": _ti(ti),
            "keys": sorted(context),
            "run_id": context["run_id"],
            "dag_run": {
                "dag_id": context["dag_run"].dag_id,
                "run_id": context["dag_run"].run_id,
            },
            "same_ti": context["task_instance"] is ti,
        }
        print("CONTEXT " + json.dumps(seen, sort_keys=True))
        # Settings of the API server and its database never reach the task process.
        print("ENV " + json.dumps(sorted(k for k in os.environ if k.startswith("TASKSTATE__"))))
        # Task output is shown as it was printed: no console markup, no emoji codes.
        print("[bold]not markup[/bold] :thumbs_up: [/]")

    @task
    def with_args(label, ti, *, times=1):
        print("CONTEXT " + json.dumps({"label": label, "times": times, "task_id": ti.task_id}))

    named() >> everything()
    with_args("hello", times=2)
