"""The DAG behind ``benchmarks/cleanup.py``: writer tasks that set and get task state in a loop.

Settings come from the environment: ``BENCH_WRITERS`` (parallel writer tasks), ``BENCH_OUT``
(a folder; each writer writes ``<task_id>.json`` there and touches ``<task_id>.started`` when it
begins its loop) and ``BENCH_STOP`` (a file; the writers stop once it exists, or after
``BENCH_MAX_SECONDS``). Each operation is recorded as ``[op, start wall-clock ns, latency ns]``
so the benchmark can pick the operations that ran while the clean-up did.
"""

import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path

from taskstate.sdk import DAG, task

WRITERS = int(os.environ.get("BENCH_WRITERS", "2"))


def write_loop(task_state, name: str) -> None:  # type: ignore[no-untyped-def]
    out = Path(os.environ["BENCH_OUT"])
    stop = Path(os.environ["BENCH_STOP"])
    deadline = time.monotonic() + float(os.environ.get("BENCH_MAX_SECONDS", "600"))
    value = {"job_id": "spark_app_001", "attempt": 3, "ok": True}
    task_state.set("warmup", value)
    task_state.get("warmup")
    (out / f"{name}.started").touch()
    samples = []
    i = 0
    # Checking the stop file costs a stat every 50 operations, not one per operation.
    while i % 50 or (not stop.exists() and time.monotonic() < deadline):
        key = f"k{i % 500}"
        start = time.time_ns()
        t0 = time.perf_counter_ns()
        task_state.set(key, value)
        samples.append(["set", start, time.perf_counter_ns() - t0])
        start = time.time_ns()
        t0 = time.perf_counter_ns()
        task_state.get(key)
        samples.append(["get", start, time.perf_counter_ns() - t0])
        i += 1
    (out / f"{name}.json").write_text(json.dumps(samples))


with DAG(dag_id="bench_cleanup_writers", start_date=datetime(2026, 1, 1, tzinfo=UTC)):
    for n in range(WRITERS):

        @task(task_id=f"writer_{n}")
        def writer(name, task_state):  # type: ignore[no-untyped-def]
            write_loop(task_state, name)

        writer(f"writer_{n}")
