"""Latency of get and set from one task, for ``benchmarks/scale.py``'s table-size scenario.

The task sets ``BENCH_N`` new keys, then gets each of them, on its task state and on its asset's
state, timing every call. The benchmark has loaded the tables with other scopes' rows first.
"""

import os
from datetime import UTC, datetime

from scale_common import timed, write_results

from taskstate.sdk import DAG, Asset, task

scale_asset = Asset(name="scale_latency_asset", uri="scale://latency")

with DAG(dag_id="scale_latency", start_date=datetime(2026, 1, 1, tzinfo=UTC)):

    @task(inlets=[scale_asset])
    def latency(task_state, asset_state, ti):  # type: ignore[no-untyped-def]
        n = int(os.environ["BENCH_N"])
        value = {"job_id": "spark_app_001", "attempt": 3, "ok": True}
        results: dict[str, object] = {}
        for name, state in (("task", task_state), ("asset", asset_state[scale_asset])):
            state.set("warmup", value)
            state.get("warmup")
            results[f"{name}.set"] = timed(n, lambda i, s=state: s.set(f"k{i}", value))
            results[f"{name}.get"] = timed(n, lambda i, s=state: s.get(f"k{i}"))
        write_results(ti, results)

    latency()
