"""DAGs of tests/e2e/test_crash_recovery.py and test_purge.py, run with a worker backend whose
objects are files (crash_backend.CrashingBackend, or the plain object-storage backend).

``e2e_crash``: ``keeper`` stores values that must survive whatever happens next; ``crasher``
stores ``over`` and ``doomed`` in the scope under test, arms the backend and performs the step
named by ``$E2E_CASE`` (``{"op": ..., "asset": ...}``), during which its process is killed.

``e2e_crash_assets``: sets the asset keys in ``$E2E_WRITE`` (``{asset: {key: value}}``), then
prints ``assets: `` and the JSON of the values of the keys in ``$E2E_READ`` (``{asset: [key]}``),
read through the worker backend.
"""

import json
import os
import signal
from datetime import UTC, datetime

import crash_backend

from taskstate.sdk import DAG, Asset, task

KEEP = {"keep_1": {"n": 1, "tags": ["a", "b"]}, "keep_2": "second"}
OLD = {"version": "old", "items": [1, 2, 3]}
NEW = {"version": "new", "items": list(range(50))}
DOOMED = "bye"

KEPT = Asset(name="e2e_crash_kept")

CASE = json.loads(os.environ.get("E2E_CASE", '{"op": "", "asset": null}'))
TARGETS = [Asset(name=CASE["asset"])] if CASE["asset"] else []

READ = json.loads(os.environ.get("E2E_READ", "{}"))
WRITE = json.loads(os.environ.get("E2E_WRITE", "{}"))
SEEN = [Asset(name=name) for name in sorted({*READ, *WRITE})]

START = datetime(2026, 1, 1, tzinfo=UTC)

with DAG(dag_id="e2e_crash", start_date=START):

    @task(retries=0, outlets=[KEPT])
    def keeper(task_state, asset_state, run_id):
        for key, value in KEEP.items():
            task_state.set(key, value)
        asset_state[KEPT].set(f"keep_{run_id}", KEEP["keep_1"])

    @task(retries=0, outlets=TARGETS)
    def crasher(task_state, asset_state):
        op = CASE["op"]
        kind, _, step = op.partition("-")
        state = task_state if kind == "task" else asset_state[TARGETS[0]]
        state.set("over", OLD)
        state.set("doomed", DOOMED)
        crash_backend.arm()
        print(f"crasher: {op}", flush=True)
        if step == "set-new":
            state.set("fresh", NEW)
        elif step in ("set-overwrite", "set-returned"):
            state.set("over", NEW)
        elif step == "delete":
            state.delete("doomed")
        elif step == "clear":
            state.clear()
        else:
            raise ValueError(f"unknown step {op!r}")
        if step == "set-returned":
            print("crasher: set returned, SIGKILL", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
        raise AssertionError(f"crasher: {op} returned without a crash")

    keeper() >> crasher()


with DAG(dag_id="e2e_crash_assets", start_date=START):

    @task(retries=0, inlets=SEEN)
    def assets(asset_state):
        for name, values in WRITE.items():
            for key, value in values.items():
                asset_state[name].set(key, value)
        found = {
            name: {key: asset_state[name].get(key) for key in keys} for name, keys in READ.items()
        }
        print("assets: " + json.dumps(found, sort_keys=True), flush=True)

    assets()
