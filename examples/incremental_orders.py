"""A realistic use of task state and asset state.

``submit`` starts a (simulated) remote job and keeps its id in task state. Its first try fails
while waiting for the job, as a flaky network would make it; the retry finds the id and
reattaches to the running job instead of paying for a second one.

``load`` keeps a watermark on the ``orders`` asset, shared across runs: every run loads the
orders after the watermark and moves it forward. Run the DAG twice and watch it advance.
"""

import uuid
from datetime import UTC, date, datetime, timedelta

from taskstate.sdk import DAG, Asset, task

orders = Asset(name="orders", uri="s3://lake/orders")


def start_remote_job() -> str:
    job_id = f"job-{uuid.uuid4().hex[:8]}"
    print(f"submitted remote job {job_id} (this costs money)")
    return job_id


def orders_between(start: date, end: date) -> list[dict[str, object]]:
    """The orders of each day after ``start`` up to ``end``: a stand-in for a real source."""
    days = (end - start).days
    return [
        {"order_id": f"{start + timedelta(days=d)}-{n}", "day": str(start + timedelta(days=d))}
        for d in range(1, days + 1)
        for n in range(3)
    ]


with DAG(
    dag_id="incremental_orders",
    schedule=None,
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    tags=["example"],
):

    @task(retries=2, retry_delay=0.2)
    def submit(task_state, ti):
        job_id = task_state.get("job_id")
        if job_id is None:
            job_id = start_remote_job()
            task_state.set("job_id", job_id)
        else:
            print(f"try {ti.try_number}: reattaching to {job_id} instead of resubmitting")
        if ti.try_number == 1:
            raise ConnectionError(f"lost the connection while waiting for {job_id}")
        print(f"{job_id} finished")

    @task(inlets=[orders])
    def load(asset_state):
        state = asset_state[orders]
        since = date.fromisoformat(state.get("watermark", "2026-01-01"))
        until = since + timedelta(days=1)
        rows = orders_between(since, until)
        print(f"loaded {len(rows)} orders after {since}")
        state.set("watermark", str(until))
        state.set("rows_loaded", state.get("rows_loaded", 0) + len(rows))
        print(f"watermark moved to {until}")

    submit() >> load()
