"""Several tasks at once, for ``benchmarks/scale.py``: ``BENCH_TASKS`` mapped instances each
do ``BENCH_N`` operations, alternately a ``set`` and a ``get`` of their task state.

Every instance starts its operations when the benchmark has heard from all of them, so the
figures are those of tasks running together, not of staggered start-ups. Timestamps come from
``time.perf_counter_ns`` (the system-wide monotonic clock on Linux), so the benchmark can
measure from the first operation of any task to the last.
"""

import os
import time
from datetime import UTC, datetime

from scale_common import ask, write_results

from taskstate.sdk import DAG, task

with DAG(dag_id="scale_concurrent", start_date=datetime(2026, 1, 1, tzinfo=UTC)):

    @task
    def worker(slot, task_state, ti):  # type: ignore[no-untyped-def]
        n = int(os.environ["BENCH_N"])
        task_state.set("warmup", slot)
        task_state.get("warmup")
        ask({"ready": slot})
        # Per kind: each operation's duration, and when it started (for a window of time).
        took: dict[str, list[int]] = {"set": [], "get": []}
        at: dict[str, list[int]] = {"set": [], "get": []}
        first = time.perf_counter_ns()
        for i in range(n):
            start = time.perf_counter_ns()
            if i % 2 == 0:
                kind = "set"
                task_state.set(f"k{i // 2 % 100}", {"slot": slot, "i": i})
            else:
                kind = "get"
                task_state.get(f"k{i // 2 % 100}")
            took[kind].append(time.perf_counter_ns() - start)
            at[kind].append(start)
        last = time.perf_counter_ns()
        write_results(
            ti,
            {**took, "set_at": at["set"], "get_at": at["get"], "first_ns": first, "last_ns": last},
        )

    worker.expand(slot=list(range(int(os.environ.get("BENCH_TASKS", "8")))))
