"""16 task instances that each add 1 to one asset key 500 times through ``update``: a
read-modify-write that must lose no increment, however the writers interleave."""

import time
from datetime import UTC, datetime

from taskstate.sdk import DAG, Asset, task

COUNTER = Asset(name="e2e_counter", uri="memory://e2e/counter")
TASKS = 16
INCREMENTS = 500

with DAG(dag_id="e2e_counter", schedule=None, start_date=datetime(2026, 1, 1, tzinfo=UTC)):

    @task(outlets=[COUNTER])
    def increment(n, asset_state):
        calls = 0

        def plus_one(value):
            nonlocal calls
            calls += 1
            return value + 1

        state = asset_state[COUNTER]
        started = time.perf_counter()
        for _ in range(INCREMENTS):
            state.update("count", plus_one, default=0)
        seconds = time.perf_counter() - started
        print(f"counted {INCREMENTS} retries={calls - INCREMENTS} seconds={seconds:.2f}")

    increment.expand(n=list(range(TASKS)))
