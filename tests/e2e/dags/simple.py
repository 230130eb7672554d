"""One task that leaves a mark when its code runs (the mark's path is in E2E_MARK)."""

import os
from datetime import UTC, datetime
from pathlib import Path

from taskstate.sdk import DAG, task

with DAG(dag_id="e2e_simple", start_date=datetime(2026, 1, 1, tzinfo=UTC)):

    @task
    def mark(task_state):
        Path(os.environ["E2E_MARK"]).write_text("user code ran")
        task_state.set("ran", True)

    mark()
