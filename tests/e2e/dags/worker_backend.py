"""Task state and asset state through a worker-side backend whose objects are files
(file_state_backend.py, beside this file): across tries, past the size limit of the database,
and when the backend itself fails."""

import os
from datetime import UTC, datetime

from file_state_backend import object_path

from taskstate import errors
from taskstate.sdk import DAG, Asset, task

ledger = Asset(name="e2e_ledger", uri="file:///tmp/e2e-ledger")


def _raises(error, call):
    try:
        call()
    except errors.TaskStateError as exc:
        if type(exc) is not error:
            raise
        print(f"raised {type(exc).__name__}: {exc}")
        return
    raise AssertionError(f"{error.__name__} not raised")


with DAG(dag_id="e2e_worker_backend", start_date=datetime(2026, 1, 1, tzinfo=UTC)):

    @task(retries=1, outlets=[ledger])
    def resumes(task_state, asset_state, ti):
        if ti.try_number == 1:
            task_state.set("job", {"id": "j-1", "parts": [1, 2]})
            asset_state.set("balance", 100)
            raise RuntimeError("try 1 fails after set")
        # A new task process: the reference written by try 1 still resolves.
        assert task_state.get("job") == {"id": "j-1", "parts": [1, 2]}
        asset_state.set("balance", asset_state.get("balance") + 5)
        print("resumes: PASS")

    @task
    def big(task_state):
        # Over [state_store] max_value_bytes (1000 here): the database holds only the reference.
        task_state.set("blob", "x" * 5000)
        assert task_state.get("blob") == "x" * 5000
        print("big: PASS")

    @task
    def broken(task_state, ti):
        _raises(errors.BackendError, lambda: task_state.set("explode", 1))
        assert task_state.get("explode") is None

        task_state.set("gone", "soon")
        object_path(os.environ["E2E_OBJECTS"], ti.id, "gone").unlink()  # behind its back
        _raises(errors.ReferenceResolutionError, lambda: task_state.get("gone"))
        _raises(errors.BackendError, lambda: task_state.delete("gone"))
        assert task_state.get("gone") is None  # the reference went first

        task_state.set("a", 1)
        task_state.set("b", 2)
        task_state.clear()
        assert task_state.get("a") is None and task_state.get("b") is None
        print("broken: PASS")

    @task(inlets=[ledger])
    def reads(asset_state):
        assert asset_state[ledger].get("balance") == 105
        print("reads: PASS")

    resumes() >> reads()
    big()
    broken()
