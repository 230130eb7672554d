"""Retention: a job id kept until it is deleted, and a key that expires by itself.

``submit`` starts a (simulated) remote job and keeps its id with ``retention=NEVER_EXPIRE``, so
that no default retention of the server (``[state_store] default_retention_days``) can drop it
before the retry needs it. Its first try fails while waiting for the job; the retry finds the
id and reattaches instead of paying for a second job.

``scratch`` keeps a progress marker for one second only. Read back two seconds later, it is
gone: an expired key is invisible at once, before any clean-up has removed it.
"""

import time
import uuid
from datetime import UTC, datetime, timedelta

from taskstate.sdk import DAG, NEVER_EXPIRE, task

with DAG(
    dag_id="job_retention",
    schedule=None,
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    tags=["example"],
):

    @task(retries=1, retry_delay=1.0)
    def submit(task_state, ti):
        job_id = task_state.get("job_id")
        if job_id is None:
            job_id = f"job-{uuid.uuid4().hex[:8]}"
            print(f"submitted remote job {job_id} (this costs money)")
            task_state.set("job_id", job_id, retention=NEVER_EXPIRE)
        else:
            print(f"try {ti.try_number}: reattaching to {job_id} instead of resubmitting")
        if ti.try_number == 1:
            raise ConnectionError(f"lost the connection while waiting for {job_id}")
        print(f"{job_id} finished")

    @task
    def scratch(task_state):
        task_state.set("progress", {"step": 1}, retention=timedelta(seconds=1))
        print(f"right away: progress = {task_state.get('progress')}")
        time.sleep(2)
        print(f"2 s later: progress = {task_state.get('progress')}")

    submit() >> scratch()
