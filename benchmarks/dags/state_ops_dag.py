"""The DAG behind ``benchmarks/state_ops.py``: one task times N operations of each kind.

Settings come from the environment: ``BENCH_N`` (operations per kind) and ``BENCH_OUT`` (where
the timings are written as JSON).
"""

import json
import os
import resource
import time
from datetime import UTC, datetime

from scale_common import timed

from taskstate.sdk import DAG, Asset, task

bench_asset = Asset(name="bench_asset", uri="bench://asset")


with DAG(dag_id="bench_state_ops", start_date=datetime(2026, 1, 1, tzinfo=UTC)):

    @task(inlets=[bench_asset])
    def state_ops(task_state, asset_state):  # type: ignore[no-untyped-def]
        n = int(os.environ.get("BENCH_N", "2000"))
        asset = asset_state[bench_asset]
        results = {}
        for name, state in (("task", task_state), ("asset", asset)):
            value = {"job_id": "spark_app_001", "attempt": 3, "ok": True}
            state.set("warmup", value)
            state.get("warmup")
            results[f"{name}.set"] = timed(n, lambda i, s=state, v=value: s.set(f"k{i}", v))
            results[f"{name}.get"] = timed(n, lambda i, s=state: s.get(f"k{i}"))
            results[f"{name}.delete"] = timed(n, lambda i, s=state: s.delete(f"k{i}"))
        started = time.perf_counter()
        total = 0
        while time.perf_counter() - started < 1.0:
            task_state.set("throughput", total)
            total += 1
        results["throughput_set_per_s"] = [total]
        results["peak_rss_kb"] = [resource.getrusage(resource.RUSAGE_SELF).ru_maxrss]
        with open(os.environ["BENCH_OUT"], "w") as f:
            json.dump(results, f)

    state_ops()
