"""The cost of ``[database] sqlite_synchronous = "full"``: set latency, NORMAL against FULL.

Two SQLite databases in WAL mode under a fresh folder, one per setting, each with one task
instance; ``MetastoreStateBackend.set`` (the statement the API server runs for a task-state
set) with a new value every time (SQLite skips the sync when an upsert rewrites identical
bytes). The two settings run interleaved, in rounds of ``--n`` sets each, alternating which
goes first, so that drift of the machine (other processes, the page cache) hits both alike.

    .venv/bin/python benchmarks/sqlite_synchronous.py --n 2000 --rounds 6 [--dir /path]

``--dir`` puts the files on the filesystem to measure (the default is a temporary folder,
often on tmpfs or an overlay, where an fsync costs little: measure where the database lives).
Prints, per round and overall, the median and p99 in microseconds and the ratio FULL/NORMAL.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from taskstate.backends.metastore import MetastoreStateBackend
from taskstate.db import Database, ensure_schema
from taskstate.db.engine import SQLiteSynchronous
from taskstate.db.models import DagRun, DagRunState, TaskInstance, TaskInstanceState
from taskstate.state import StoredValue, TaskScope

MODES: tuple[SQLiteSynchronous, ...] = ("normal", "full")


def _prepare(
    folder: Path, mode: SQLiteSynchronous
) -> tuple[Database, MetastoreStateBackend, TaskScope]:
    database = Database(f"sqlite:///{folder}/{mode}.db", pool_size=1, sqlite_synchronous=mode)
    ensure_schema(database)
    scope = TaskScope("bench", "r1", "t")
    with database.session_factory.begin() as session:
        session.add(DagRun(dag_id=scope.dag_id, run_id=scope.run_id, state=DagRunState.RUNNING))
    with database.session_factory.begin() as session:
        session.add(
            TaskInstance(
                id=str(uuid.uuid4()),
                dag_id=scope.dag_id,
                run_id=scope.run_id,
                task_id=scope.task_id,
                map_index=-1,
                state=TaskInstanceState.RUNNING,
            )
        )
    return database, MetastoreStateBackend(database), scope


def _sets(backend: MetastoreStateBackend, scope: TaskScope, n: int, start: int) -> list[int]:
    samples = []
    for i in range(start, start + n):
        value = StoredValue(f'{{"i": {i}, "pad": "{"x" * 64}"}}')
        began = time.perf_counter_ns()
        backend.set(scope, f"k{i % 100}", value)
        samples.append(time.perf_counter_ns() - began)
    return samples


def _p99(samples: list[int]) -> float:
    return sorted(samples)[max(0, int(len(samples) * 0.99) - 1)] / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="sets per setting per round")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--dir", type=Path, default=None, help="where to put the databases")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(dir=args.dir) as name:
        folder = Path(name)
        prepared = {mode: _prepare(folder, mode) for mode in MODES}
        for _, backend, scope in prepared.values():
            _sets(backend, scope, 200, 0)  # warm up: connections, statements, first pages
        samples: dict[str, list[int]] = {mode: [] for mode in MODES}
        print(f"{args.rounds} rounds of {args.n} sets per setting, files in {folder}")
        print(f"{'round':>5}  {'normal µs':>10}  {'full µs':>10}  {'full/normal':>11}")
        for r in range(args.rounds):
            order = MODES if r % 2 == 0 else MODES[::-1]
            medians = {}
            for mode in order:
                _, backend, scope = prepared[mode]
                got = _sets(backend, scope, args.n, (r + 1) * args.n)
                samples[mode].extend(got)
                medians[mode] = statistics.median(got) / 1000
            ratio = medians["full"] / medians["normal"]
            print(
                f"{r + 1:>5}  {medians['normal']:>10.1f}  {medians['full']:>10.1f}  {ratio:>10.1f}x"
            )
        normal = statistics.median(samples["normal"]) / 1000
        full = statistics.median(samples["full"]) / 1000
        print(
            f"overall median: normal {normal:.1f} µs (p99 {_p99(samples['normal']):.1f}), "
            f"full {full:.1f} µs (p99 {_p99(samples['full']):.1f}); "
            f"full/normal {full / normal:.1f}x, +{full - normal:.1f} µs per set"
        )
        for database, _, _ in prepared.values():
            database.dispose()


if __name__ == "__main__":
    main()
