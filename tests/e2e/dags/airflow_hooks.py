"""Task state and asset state through a worker backend written against Apache Airflow 3.3.2's
hooks (examples/airflow_style_backend.py), reached by Airflow's context names
``task_state_store`` and ``asset_state_store``; written as an Airflow 3 DAG file with its
import lines changed."""

from datetime import UTC, datetime

from taskstate.sdk import DAG, Asset, task

ledger = Asset(name="e2e_airflow_ledger", uri="file:///tmp/e2e-airflow-ledger")
JOB = {"id": "j-1", "log": "x" * 100}  # over the backend's inline_below: stored as a file
BIG = "y" * 100

with DAG(
    dag_id="e2e_airflow_hooks",
    schedule=None,
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
):

    @task(retries=1)
    def task_keys(**context):
        store = context["task_state_store"]
        assert store is context["task_state"]
        if context["ti"].try_number == 1:
            store.set("job", JOB)
            store.set("small", 1)  # the backend keeps it inline
            raise RuntimeError("try 1 fails after set")
        # Another task process: the reference written by try 1 resolves.
        assert store.get("job") == JOB
        assert store.get("small") == 1

        store.set("gone", BIG)
        store.delete("gone")
        assert store.get("gone") is None

        store.set("a", BIG)
        store.set("b", BIG)
        store.clear()
        assert store.get("a") is None and store.get("job") is None

        store.set("job", JOB)
        store.set("kept", BIG)
        store.set("small", 1)
        print("task_keys: PASS")

    @task(outlets=[ledger])
    def asset_keys(**context):
        store = context["asset_state_store"]
        assert store is context["asset_state"]
        store[ledger].set("tmp", BIG)
        store.delete("tmp")  # the shortcut of a task with one asset
        assert store.get("tmp") is None
        store.set("x", BIG)
        store.set("y", BIG)
        store.clear()
        assert store.get("x") is None
        store.set("watermark", "2026-05-01T00:00:00+00:00" * 3)
        print("asset_keys: PASS")

    @task(inlets=[ledger])
    def reads(asset_state_store):
        assert asset_state_store[ledger].get("watermark") == "2026-05-01T00:00:00+00:00" * 3
        print("reads: PASS")

    asset_keys() >> reads()
    task_keys()
