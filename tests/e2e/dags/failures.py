"""Tasks that fail in every way a task can: a raise with a retry left, a raise without one,
SIGKILL, ``os._exit``; plus a branch that has nothing to do with any of them."""

import json
import os
import signal
from datetime import UTC, datetime

from taskstate.sdk import DAG, task

with DAG(dag_id="e2e_failures", start_date=datetime(2026, 1, 1, tzinfo=UTC)):

    @task(retries=1)
    def flaky(task_state, ti):
        if ti.try_number == 1:
            task_state.set("progress", {"step": 2, "done": [1, 2]})
            raise RuntimeError("flaky: try 1 fails after set")
        progress = task_state.get("progress")
        assert progress == {"step": 2, "done": [1, 2]}, progress
        print(f"flaky: try {ti.try_number} read {json.dumps(progress, sort_keys=True)}")

    @task
    def boom(task_state):
        task_state.set("before_boom", 1)
        raise ValueError("boom: no retries left")

    @task
    def after_boom():
        print("after_boom ran")

    @task
    def after_after_boom():
        print("after_after_boom ran")

    @task
    def killed(task_state):
        task_state.set("before_kill", "kept")
        print("killed: about to SIGKILL myself", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)

    @task
    def after_killed():
        print("after_killed ran")

    @task
    def exits():
        print("exits: calling os._exit(3)", flush=True)
        os._exit(3)

    @task
    def unrelated():
        print("unrelated ran")

    @task
    def joined():
        print("joined ran")

    boom() >> after_boom() >> after_after_boom()
    killed() >> after_killed()
    exits()
    [flaky(), unrelated()] >> joined()
