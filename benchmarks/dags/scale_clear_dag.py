"""``clear()`` of a large scope, for ``benchmarks/scale.py``.

The task tells the benchmark its ``ti_id`` and waits while the benchmark loads its scope (and
the asset's, loaded before the run) with rows; then it times ``clear()`` of each. Around each
clear it asks the benchmark to sample the memory of the API server's process.
"""

import time
from datetime import UTC, datetime

from scale_common import ask, write_results

from taskstate.sdk import DAG, Asset, task

clear_asset = Asset(name="scale_clear_asset", uri="scale://clear")

with DAG(dag_id="scale_clear", start_date=datetime(2026, 1, 1, tzinfo=UTC)):

    @task(inlets=[clear_asset])
    def clear(task_state, asset_state, ti):  # type: ignore[no-untyped-def]
        ask({"loaded?": ti.id})
        results: dict[str, object] = {}
        for name, state in (("task", task_state), ("asset", asset_state[clear_asset])):
            before = ask({"memory": name})
            started = time.perf_counter()
            try:
                state.clear()
            except Exception as exc:  # a time-out is a finding to report, not a crash
                results[name] = {"error": f"{type(exc).__name__}: {exc}"}
            else:
                seconds = time.perf_counter() - started
                left = state.get("key_0000000")
                results[name] = {"seconds": seconds, "key_left": left}
            results[name] |= {"server_kb_before": before, "server_kb_after": ask({"memory": name})}
        write_results(ti, results)

    clear()
