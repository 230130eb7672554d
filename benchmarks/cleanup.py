"""Clean-up of N expired task-state rows while tasks keep writing, on SQLite and PostgreSQL.

    python benchmarks/cleanup.py [--database sqlite|postgres|both] [--rows 1000000]

For each database: a fresh ``TASKSTATE_HOME`` (and a throwaway PostgreSQL database), migrated;
N rows with ``expires_at`` in the past bulk-inserted into ``task_state`` over many task
instances of a seeded run (every ``--ref-every``-th row a reference, so the clean-up queues it
for purging); an API server subprocess (``taskstate api-server``) with its periodic clean-up
off. Then the writer DAG (``dags/cleanup_writer_dag.py``, through ``taskstate dags test
--api-url``) sets and gets in a loop, first alone (baseline), then while ``taskstate state
clean`` removes the N rows; the writers' latencies are taken over the window the clean-up ran.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from scale_load import Loader

from taskstate.api.keys import client_api_key
from taskstate.backends.metastore import _statements
from taskstate.client.public import PublicClient
from taskstate.config import load_settings
from taskstate.testing.postgres import temporary_database

HERE = Path(__file__).resolve().parent
DAG_FILE = HERE / "dags" / "cleanup_writer_dag.py"
TASKSTATE = [sys.executable, "-m", "taskstate.cli"]
KEYS_PER_TI = 1000
SEED = "bench"
"""The ``written_by`` of the seeded rows, to tell them from the writers'."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def seed(loader: Loader, n: int, ref_every: int) -> float:
    """Load N expired rows into ``task_state``, ``KEYS_PER_TI`` per task instance; the seconds
    it took."""
    started = time.perf_counter()
    tis = loader.task_instances(-(-n // KEYS_PER_TI))
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    loader.state(
        "task", tis, 0, n, KEYS_PER_TI, expires_at=an_hour_ago, ref_every=ref_every, written_by=SEED
    )
    loader.settle()
    return time.perf_counter() - started


def explain_batch(loader: Loader) -> str:
    """The plan of the clean-up's batch statement on ``task_state``."""
    stmt = _statements(loader.dialect).task.expired
    lines = loader.explain(stmt, {"now": datetime.now(UTC), "limit": 1000})
    return "\n".join("    " + line for line in lines)


@contextmanager
def api_server(env: dict[str, str], log: Path) -> Iterator[str]:
    """``taskstate api-server`` on a free port, its output in ``log``; its URL once it answers."""
    port = free_port()
    with log.open("w") as out:
        cmd = [*TASKSTATE, "api-server", "--port", str(port)]
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(url + "/health", timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        else:
            sys.exit("the API server did not start")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


class Writers:
    """One ``dags test`` of the writer DAG, stopped through a file."""

    def __init__(self, tmp: Path, env: dict[str, str], url: str, key: str, writers: int) -> None:
        self.out = tmp / f"writers-{uuid.uuid4().hex[:6]}"
        self.out.mkdir()
        self.stop_file = self.out / "STOP"
        self.writers = writers
        wenv = {
            **env,
            "TASKSTATE_HOME": str(self.out / "home"),
            "BENCH_OUT": str(self.out),
            "BENCH_STOP": str(self.stop_file),
            "BENCH_WRITERS": str(writers),
            "TASKSTATE_API_KEY": key,
        }
        wenv.pop("TASKSTATE__DATABASE__URL", None)
        cmd = [*TASKSTATE, "dags", "test", str(DAG_FILE), "--api-url", url]
        self.proc = subprocess.Popen(
            cmd, env=wenv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )

    def wait_started(self) -> int:
        while len(list(self.out.glob("*.started"))) < self.writers:
            if self.proc.poll() is not None:
                sys.exit(f"writers failed:\n{self.proc.stdout.read().decode()}")  # type: ignore[union-attr]
            time.sleep(0.02)
        return time.time_ns()

    def stop(self) -> list[list[Any]]:
        self.stop_file.touch()
        output, _ = self.proc.communicate(timeout=120)
        if self.proc.returncode != 0:
            sys.exit(f"writers failed:\n{output.decode()}")
        return [s for f in self.out.glob("writer_*.json") for s in json.loads(f.read_text())]


def latency(samples: list[list[Any]], start_ns: int, end_ns: int) -> dict[str, float]:
    """Median, p99 and max in ms of the operations that started in ``[start_ns, end_ns]``."""
    ms = sorted(s[2] / 1e6 for s in samples if start_ns <= s[1] <= end_ns)
    p99 = statistics.quantiles(ms, n=100, method="inclusive")[98]
    seconds = (end_ns - start_ns) / 1e9
    return {
        "ops": len(ms),
        "ops_s": len(ms) / seconds,
        "median": statistics.median(ms),
        "p99": p99,
        "max": ms[-1],
    }


def run(database: str, n: int, args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    with ExitStack() as stack:
        home = tmp / database / "home"
        env = {k: v for k, v in os.environ.items() if not k.startswith("TASKSTATE")}
        env |= {
            "TASKSTATE_HOME": str(home),
            "TASKSTATE__STATE_STORE__CLEANUP_INTERVAL_SECONDS": "0",
        }
        if database == "postgres":
            env["TASKSTATE__DATABASE__URL"] = stack.enter_context(temporary_database())
        settings = load_settings(env=env)
        loader = Loader(settings.database.url)
        stack.callback(loader.close)
        print(f"{database}: seeding {n:,} expired rows ...", flush=True)
        seed_s = seed(loader, n, args.ref_every)
        print(f"  {seed_s:.1f} s ({n / seed_s:,.0f} rows/s)\n  batch statement plan:")
        print(explain_batch(loader), flush=True)
        api = stack.enter_context(api_server(env, tmp / f"{database}-server.log"))
        key = client_api_key(settings)

        base = Writers(tmp, env, api, key, args.writers)
        t0 = base.wait_started()
        time.sleep(args.baseline_seconds)
        t1 = time.time_ns()
        baseline = latency(base.stop(), t0, t1)

        loaded = Writers(tmp, env, api, key, args.writers)
        loaded.wait_started()
        time.sleep(1)
        print(f"  cleaning {n:,} rows while {args.writers} writers run ...", flush=True)
        c0 = time.time_ns()
        clean = subprocess.run(
            [*TASKSTATE, "state", "clean", "--json", "--api-url", api]
            + ([] if args.batch_size is None else ["--batch-size", str(args.batch_size)]),
            env={**env, "TASKSTATE_API_KEY": key},
            capture_output=True,
            text=True,
        )
        c1 = time.time_ns()
        samples = loaded.stop()
        if clean.returncode != 0:
            sys.exit(f"state clean failed:\n{clean.stdout}\n{clean.stderr}")
        summary = json.loads(clean.stdout)
        with PublicClient(api, key) as client:
            expired_after = client.count_expired()
        queued = loader.count("purge_queue")
        left = loader.count("task_state", f"written_by = '{SEED}'")
        wall = (c1 - c0) / 1e9
        return {
            "database": database,
            "rows": n,
            "seed_s": seed_s,
            "clean_s": wall,
            "rows_s": summary["removed"] / wall,
            "summary": summary,
            "baseline": baseline,
            "during": latency(samples, c0, c1),
            "expired_after": expired_after,
            "queued": queued,
            "refs_expected": len(range(0, n, args.ref_every)),
            "left": left,
        }
    raise AssertionError("unreachable")


def report(r: dict[str, Any]) -> None:
    s = r["summary"]
    print(f"\n== {r['database']}: {r['rows']:,} expired rows ==")
    print(
        f"seed: {r['seed_s']:.1f} s; clean-up: {s['removed']:,} removed in {s['batches']} "
        f"batches, {r['clean_s']:.1f} s, {r['rows_s']:,.0f} rows/s"
    )
    print(
        f"afterwards: expired {r['expired_after']}, seeded rows left {r['left']}, "
        f"purge queue {r['queued']:,} (references seeded {r['refs_expected']:,}, "
        f"reported queued {s['references_queued']:,})"
    )
    print(
        f"{'writers (set+get)':<22}{'ops':>8}{'ops/s':>8}{'median ms':>11}{'p99 ms':>9}"
        f"{'max ms':>9}"
    )
    for name in ("baseline", "during"):
        w = r[name]
        print(
            f"{name:<22}{w['ops']:>8}{w['ops_s']:>8.0f}{w['median']:>11.2f}{w['p99']:>9.2f}"
            f"{w['max']:>9.1f}"
        )


def check(r: dict[str, Any]) -> None:
    """Exit non-zero unless the clean-up removed every seeded row and queued every reference."""
    problems = [
        f"{r['expired_after']} keys still expired" if r["expired_after"] else "",
        f"{r['left']} seeded rows left" if r["left"] else "",
        f"{r['queued']} queued of {r['refs_expected']} references"
        if r["queued"] != r["refs_expected"]
        else "",
    ]
    if any(problems):
        sys.exit(f"{r['database']}: " + "; ".join(p for p in problems if p))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--database", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--rows", type=int, default=1_000_000, help="expired rows to clean")
    parser.add_argument("--writers", type=int, default=2, help="parallel writer tasks")
    parser.add_argument("--baseline-seconds", type=float, default=10)
    parser.add_argument(
        "--batch-size", type=int, help="passed to `state clean` (default: the server's setting)"
    )
    parser.add_argument("--ref-every", type=int, default=100, help="every k-th row a reference")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    databases = ("sqlite", "postgres") if args.database == "both" else (args.database,)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for database in databases:
            results.append(run(database, args.rows, args, Path(tmp)))
            report(results[-1])
            check(results[-1])
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
