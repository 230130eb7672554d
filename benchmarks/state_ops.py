"""Per-operation latency of task state and asset state through the full path, and the wall time
of ``taskstate dags test`` on the seed's task-state DAG.

    python benchmarks/state_ops.py [--n 2000] [--runs 5]

Every figure goes through real processes: task process → socket → supervisor → HTTP → API
server → SQLite, each run with a fresh ``TASKSTATE_HOME``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TASKSTATE = [sys.executable, "-m", "taskstate.cli"]
TARGETS_US = {"set": 500, "get": 400}


def run_dag(dag_file: Path, home: Path, extra_env: dict[str, str] | None = None) -> float:
    # Only the benchmark's settings: a user's TASKSTATE_* variables would change the figures.
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TASKSTATE")}
    env = {**clean, "TASKSTATE_HOME": str(home), **(extra_env or {})}
    started = time.perf_counter()
    done = subprocess.run(
        [*TASKSTATE, "dags", "test", str(dag_file)], env=env, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{dag_file.name} failed:\n{done.stdout}\n{done.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--n", type=int, default=2000, help="operations of each kind")
    parser.add_argument("--runs", type=int, default=5, help="runs of the seed DAG to time")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "timings.json"
        print(f"state operations: {args.n} of each kind, through the full path ...", flush=True)
        run_dag(
            HERE / "dags" / "state_ops_dag.py",
            Path(tmp) / "ops",
            {"BENCH_N": str(args.n), "BENCH_OUT": str(out)},
        )
        results = json.loads(out.read_text())

        print(f"\n{'operation':<14}{'median µs':>11}{'p99 µs':>10}{'ops/s':>9}{'target':>10}")
        for name, samples in results.items():
            if "." not in name:
                continue
            median = statistics.median(samples) / 1000
            p99 = statistics.quantiles(samples, n=100, method="inclusive")[98] / 1000
            target = TARGETS_US.get(name.split(".")[1])
            mark = "" if target is None else f"≤{target}"
            print(f"{name:<14}{median:>11.0f}{p99:>10.0f}{1e6 / median:>9.0f}{mark:>10}")
        print(f"\nsets per second, one task, 1 s loop: {results['throughput_set_per_s'][0]}")
        print(f"peak RSS of the task process: {results['peak_rss_kb'][0] / 1024:.1f} MB")

        seed = ROOT / "examples" / "seed_task_state.py"
        walls = [run_dag(seed, Path(tmp) / f"seed{i}") for i in range(args.runs)]
        print(
            f"\n`taskstate dags test` of the seed's 3-task DAG, {args.runs} runs: "
            f"median {statistics.median(walls):.2f} s, "
            f"min {min(walls):.2f} s, max {max(walls):.2f} s"
        )


if __name__ == "__main__":
    main()
