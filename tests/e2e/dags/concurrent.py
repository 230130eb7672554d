"""Two DAGs whose tasks all declare one asset, for several runs at once against one API server
(tests/e2e/test_postgres_server.py). Every task instance writes a key naming itself, counts to
``WRITES`` in a key of its own (a read and a write each time), and sets a key of its own on the
shared asset to its count."""

from datetime import UTC, datetime

from taskstate.sdk import DAG, Asset, task

SHARED = Asset(name="e2e_shared", uri="memory://e2e/shared")
WRITES = 20


def _work(task_state, asset_state, ti):
    me = f"{ti.dag_id}/{ti.run_id}/{ti.task_id}/{ti.map_index}"
    task_state.set("owner", me)
    for _ in range(WRITES):
        task_state.set("count", task_state.get("count", 0) + 1)
    assert task_state.get("owner") == me, task_state.get("owner")
    asset_state[SHARED].set(me, task_state.get("count"))


with DAG(dag_id="e2e_concurrent_a", start_date=datetime(2026, 1, 1, tzinfo=UTC)):

    @task(outlets=[SHARED])
    def extract(task_state, asset_state, ti):
        _work(task_state, asset_state, ti)

    @task(outlets=[SHARED])
    def part(n, task_state, asset_state, ti):
        _work(task_state, asset_state, ti)

    @task(inlets=[SHARED])
    def report(task_state, asset_state, ti):
        _work(task_state, asset_state, ti)

    extract() >> part.expand(n=[0, 1]) >> report()


with DAG(dag_id="e2e_concurrent_b", start_date=datetime(2026, 1, 1, tzinfo=UTC)):

    @task(inlets=[SHARED])
    def load(task_state, asset_state, ti):
        _work(task_state, asset_state, ti)

    @task(outlets=[SHARED])
    def publish(task_state, asset_state, ti):
        _work(task_state, asset_state, ti)

    load() >> publish()
