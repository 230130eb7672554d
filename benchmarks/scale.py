"""taskstate at scale, on SQLite and on PostgreSQL, through the full path (task process → socket
→ supervisor → HTTP → API server → database), each run with ``taskstate dags test`` over a fresh
``TASKSTATE_HOME`` (and, on PostgreSQL, a throwaway database).

    python benchmarks/scale.py [--database sqlite|postgres|both] [--keys 1000000]
        [--small-keys 1000] [--keys-per-scope 100] [--clear-keys 100000] [--n 2000]
        [--rounds 3] [--tasks 8] [--ops 1000] [--env NAME=VALUE ...]
        [--scenario table-size,clear,concurrent]

Scenarios, each one function of ``SCENARIOS`` returning its figures, run in turn on one
database per kind:

* ``table-size``: get and set latency (median, p99) seen by a task, with ``--small-keys`` and
  with ``--keys`` rows loaded into each of ``task_state`` and ``asset_state`` (other task
  instances' and assets' rows, ``--keys-per-scope`` per scope), ``--rounds`` runs of each.
  It leaves the database holding the large tables for the scenarios after it.
* ``clear``: ``clear()`` of a task instance's scope and of an asset's, each holding
  ``--clear-keys`` keys, timed in the task; the API server's memory around it.
* ``concurrent``: ``--tasks`` mapped task instances at once (``--parallelism`` as many), each
  doing ``--ops`` operations (set and get alternately), started together, ``--rounds`` times.

Rows are loaded beneath the API server (``scale_load.py``); tasks that must wait for a load, or
for each other, ask this process over a Unix socket (``dags/scale_common.py``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import selectors
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from scale_load import VALUE, Loader

from taskstate.backends.metastore import _read_params, _set_params, _statements
from taskstate.state import StoredValue
from taskstate.testing.postgres import server_url, temporary_database

HERE = Path(__file__).resolve().parent
DAGS = HERE / "dags"
TASKSTATE = [sys.executable, "-m", "taskstate.cli"]
DATABASES = {"sqlite": "SQLite", "postgres": "PostgreSQL"}

# The figures of one database: (figure, value), in the order they were measured.
Figures = list[tuple[str, str]]


@dataclass
class Target:
    """One database under test, its loader, and the settings every run gets."""

    kind: str
    url: str
    work: Path
    loader: Loader
    settings: dict[str, str]
    runs: int = 0

    @property
    def name(self) -> str:
        return DATABASES[self.kind]

    def fresh_dir(self, label: str) -> Path:
        self.runs += 1
        path = self.work / f"{self.runs:02d}_{label}"
        path.mkdir()
        return path


@contextmanager
def open_target(kind: str, work: Path, settings: dict[str, str]) -> Iterator[Target]:
    """A fresh, empty database of ``kind`` (``sqlite`` or ``postgres``), migrated."""
    work.mkdir()
    with database_url(kind, work) as url:
        loader = Loader(url)
        try:
            yield Target(kind, url, work, loader, settings)
        finally:
            loader.close()


@contextmanager
def database_url(kind: str, work: Path) -> Iterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{work / 'taskstate.db'}"
        return
    try:
        with temporary_database(server_url()) as url:
            yield url
    except (pytest.skip.Exception, pytest.fail.Exception) as exc:
        sys.exit(f"PostgreSQL is not available: {exc}")


# A message from a task and the connection to answer it on; the handler returns the answer,
# or None to answer later itself.
Handler = Callable[[socket.socket, dict[str, Any], subprocess.Popen[bytes]], Any]


def _answer(conn: socket.socket, answer: Any) -> None:
    conn.sendall(json.dumps(answer).encode() + b"\n")
    conn.close()


def run_dag(
    target: Target,
    dag: str,
    env: dict[str, str],
    *,
    handler: Handler | None = None,
    parallelism: int | None = None,
) -> dict[str, dict[str, Any]]:
    """Run ``dags/<dag>`` once; the results each task instance wrote, by ``<task>_<index>``.

    While it runs, the messages its tasks send to ``BENCH_SOCKET`` go to ``handler``.
    """
    work = target.fresh_dir(dag.removesuffix(".py"))
    out = work / "out"
    out.mkdir()
    # Only the benchmark's settings: a user's TASKSTATE_* variables would change the figures.
    clean = {k: v for k, v in os.environ.items() if not k.startswith("TASKSTATE")}
    env = {
        **clean,
        **target.settings,
        **env,
        "TASKSTATE_HOME": str(work / "home"),
        "TASKSTATE__DATABASE__URL": target.url,
        "BENCH_OUT": str(out),
        "BENCH_SOCKET": str(work / "bench.sock"),
    }
    command = [*TASKSTATE, "dags", "test", str(DAGS / dag)]
    if parallelism is not None:
        command += ["--parallelism", str(parallelism)]
    with ExitStack() as stack:
        listener = stack.enter_context(socket.socket(socket.AF_UNIX, socket.SOCK_STREAM))
        listener.bind(env["BENCH_SOCKET"])
        listener.listen(64)
        log = stack.enter_context((work / "output.log").open("w+b"))
        proc = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        selector = stack.enter_context(selectors.DefaultSelector())
        selector.register(listener, selectors.EVENT_READ)
        # Serve the tasks until the run ends; the time-out only rechecks that it has not.
        while proc.poll() is None:
            if not selector.select(timeout=0.2):
                continue
            conn, _ = listener.accept()
            with conn.makefile("rb") as reader:
                message = json.loads(reader.readline())
            answer = handler(conn, message, proc) if handler else {}
            if answer is not None:
                _answer(conn, answer)
        if proc.returncode != 0:
            log.seek(0)
            sys.exit(f"{dag} failed on {target.name}:\n{log.read().decode()}")
    return {p.stem: json.loads(p.read_text()) for p in out.glob("*.json")}


def _latency(samples: list[int]) -> str:
    """Median and p99 of ``samples`` (ns), in µs."""
    median = statistics.median(samples) / 1000
    p99 = statistics.quantiles(samples, n=100, method="inclusive")[98] / 1000
    return f"{median:,.0f} / {p99:,.0f}"


def fill(target: Target, rows: int, per_scope: int) -> None:
    """Load ``rows`` rows into each of ``task_state`` and ``asset_state``, ``per_scope`` per
    task instance or asset (all of them made here)."""
    print(f"  {target.name}: loading {rows:,} rows into task_state and asset_state ...")
    owners = -(-rows // per_scope)
    loader = target.loader
    tis = loader.task_instances(owners)
    assets = loader.numbered_assets(owners)
    loader.state("task", tis, 0, rows, per_scope)
    loader.state("asset", assets, 0, rows, per_scope)
    loader.settle()


def print_plans(target: Target, size: int) -> None:
    """The plans of the four hot-path statements on the tables holding ``size`` rows each."""
    statements = _statements(target.loader.dialect)
    stored = StoredValue(VALUE, None, None, None)
    for scope, kind in zip(target.loader.loaded_scopes(), ("task", "asset"), strict=True):
        chosen = getattr(statements, kind)
        for op, stmt, params in (
            ("get", chosen.get, _read_params(scope, "key_0000001")),
            ("set", chosen.set, _set_params(scope, "key_0000001", stored)),
        ):
            print(f"  plan of {kind}.{op} with {size:,} rows:")
            for line in target.loader.explain(stmt, params):
                print(f"    {line}")


def table_size(target: Target, args: argparse.Namespace) -> Figures:
    """Get and set latency with few and with many rows in the state tables.

    The two sizes live in two databases, and their runs alternate, so that what else the
    machine does weighs on both alike. ``target`` is left holding the large tables.
    """
    ops = ("task.set", "task.get", "asset.set", "asset.get")
    with open_target(target.kind, target.work / "small", target.settings) as small:
        sizes = {args.small_keys: small, args.keys: target}
        for size, where in sizes.items():
            fill(where, size, args.keys_per_scope)
        print_plans(target, args.keys)
        samples: dict[int, dict[str, list[int]]] = {size: {op: [] for op in ops} for size in sizes}
        for round_ in range(1, args.rounds + 1):
            for size, where in sizes.items():
                print(f"  round {round_}/{args.rounds}, {size:,} keys: {args.n:,} of each ...")
                timings = run_dag(where, "scale_latency_dag.py", {"BENCH_N": str(args.n)})
                for op in ops:
                    samples[size][op] += timings["latency_-1"][op]
    return [
        (f"{op}, µs median / p99, {size:,} keys", _latency(samples[size][op]))
        for op in ops
        for size in sizes
    ]


def _memory_kb(pid: int) -> dict[str, int]:
    """The resident set of process ``pid`` now, and its peak, in KiB."""
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    fields = dict(line.split(":", 1) for line in status)
    return {name: int(fields[name].split()[0]) for name in ("VmRSS", "VmHWM")}


def clear_scope(target: Target, args: argparse.Namespace) -> Figures:
    """``clear()`` of a task instance's scope and an asset's, each holding ``--clear-keys``."""
    keys = args.clear_keys
    print(f"  loading {keys:,} keys into one asset's scope ...")
    asset = target.loader.assets([("scale_clear_asset", "scale://clear")])
    target.loader.state("asset", asset, 0, keys, keys)

    def handle(conn: socket.socket, message: dict[str, Any], proc: Any) -> Any:
        if "loaded?" in message:
            print(f"  loading {keys:,} keys into the task instance's scope ...")
            target.loader.state("task", [message["loaded?"]], 0, keys, keys)
            target.loader.settle()
            return {}
        # The API server runs inside the `taskstate dags test` process.
        return _memory_kb(proc.pid)

    print("  clearing ...")
    results = run_dag(target, "scale_clear_dag.py", {}, handler=handle)["clear_-1"]
    figures: Figures = []
    for scope in ("task", "asset"):
        outcome = results[scope]
        before, after = outcome["server_kb_before"], outcome["server_kb_after"]
        memory = (
            f"RSS {before['VmRSS'] / 1024:.0f} → {after['VmRSS'] / 1024:.0f} MiB, "
            f"peak {before['VmHWM'] / 1024:.0f} → {after['VmHWM'] / 1024:.0f} MiB"
        )
        if "error" in outcome:
            figures.append((f"{scope} clear() of {keys:,} keys", f"failed: {outcome['error']}"))
        else:
            seconds = outcome["seconds"]
            left = "" if outcome["key_left"] is None else " (a key is left!)"
            figures.append(
                (
                    f"{scope} clear() of {keys:,} keys: s, rows/s",
                    f"{seconds:.2f} s, {keys / seconds:,.0f} rows/s{left}",
                )
            )
        figures.append((f"{scope} clear(): API server process", memory))
    return figures


def concurrent(target: Target, args: argparse.Namespace) -> Figures:
    """``--tasks`` task instances at once, each doing ``--ops`` operations, ``--rounds`` times."""
    waiting: list[socket.socket] = []

    def handle(conn: socket.socket, message: dict[str, Any], proc: Any) -> Any:
        waiting.append(conn)
        if len(waiting) == args.tasks:  # all are ready: start them together
            for ready in waiting:
                _answer(ready, {})
            waiting.clear()
        return None

    env = {"BENCH_N": str(args.ops), "BENCH_TASKS": str(args.tasks)}
    rates: list[float] = []
    sets: list[int] = []
    gets: list[int] = []
    for round_ in range(1, args.rounds + 1):
        print(f"  round {round_}/{args.rounds}: {args.tasks} tasks x {args.ops:,} operations ...")
        results = run_dag(
            target, "scale_concurrent_dag.py", env, handler=handle, parallelism=args.tasks
        )
        tasks = list(results.values())
        first = min(r["first_ns"] for r in tasks)
        last = max(r["last_ns"] for r in tasks)
        rates.append(args.tasks * args.ops / ((last - first) / 1e9))
        sets += [s for r in tasks for s in r["set"]]
        gets += [s for r in tasks for s in r["get"]]
    label = f"{args.tasks} tasks x {args.ops:,} ops"
    spread = f" ({min(rates):,.0f} to {max(rates):,.0f})" if len(rates) > 1 else ""
    return [
        (f"{label}: ops/s, first op to last", f"{statistics.median(rates):,.0f}{spread}"),
        (f"{label}: set, µs median / p99", _latency(sets)),
        (f"{label}: get, µs median / p99", _latency(gets)),
    ]


SCENARIOS: dict[str, Callable[[Target, argparse.Namespace], Figures]] = {
    "table-size": table_size,
    "clear": clear_scope,
    "concurrent": concurrent,
}


def _cpu_seconds() -> tuple[float, float, float]:
    """Wall-clock seconds, and CPU seconds spent by the whole machine and by this process with
    its descendants (those that have ended, as every run has when this is read)."""
    ticks = [int(f) for f in Path("/proc/stat").read_text().split(maxsplit=11)[1:9]]
    idle = ticks[3] + ticks[4]  # idle, iowait
    machine = (sum(ticks) - idle) / os.sysconf("SC_CLK_TCK")
    usage = (resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
    return time.monotonic(), machine, sum(u.ru_utime + u.ru_stime for u in usage)


def other_load(since: tuple[float, float, float]) -> Figures:
    """How busy the machine was with anything but this benchmark since ``since``: on a shared
    machine, the figures beside it say how much to trust the others."""
    wall, machine, ours = (now - then for now, then in zip(_cpu_seconds(), since, strict=True))
    cores = (machine - ours) / wall
    return [
        ("other processes' CPU (PostgreSQL's included), cores", f"{cores:.2f} of {os.cpu_count()}")
    ]


def print_table(columns: list[str], rows: list[list[str]]) -> None:
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for row in rows:
        print("| " + " | ".join(row) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--database", choices=[*DATABASES, "both"], default="both")
    parser.add_argument("--keys", type=int, default=1_000_000, help="rows per table, large")
    parser.add_argument("--small-keys", type=int, default=1_000, help="rows per table, small")
    parser.add_argument("--keys-per-scope", type=int, default=100, help="rows per loaded scope")
    parser.add_argument("--clear-keys", type=int, default=100_000, help="keys of the cleared scope")
    parser.add_argument("--n", type=int, default=2000, help="sets and gets of each kind timed")
    parser.add_argument("--rounds", type=int, default=3, help="runs of each timed DAG")
    parser.add_argument("--tasks", type=int, default=8, help="concurrent task instances")
    parser.add_argument("--ops", type=int, default=1000, help="operations per concurrent task")
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a variable for every run, e.g. TASKSTATE__DATABASE__POOL_SIZE=16",
    )
    parser.add_argument(
        "--scenario", default=",".join(SCENARIOS), help=f"of: {', '.join(SCENARIOS)}"
    )
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # progress, live
    chosen = args.scenario.split(",")
    if unknown := set(chosen) - set(SCENARIOS):
        parser.error(f"unknown scenario {', '.join(sorted(unknown))}")
    kinds = list(DATABASES) if args.database == "both" else [args.database]
    settings = dict(item.split("=", 1) for item in args.env)

    measured: dict[str, Figures] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for kind in kinds:
            with open_target(kind, Path(tmp) / kind, settings) as target:
                print(f"\n{target.name}")
                started = _cpu_seconds()
                figures = [f for scenario in chosen for f in SCENARIOS[scenario](target, args)]
                figures += other_load(started)
            measured[target.name] = figures
            print()
            print_table(["figure", target.name], [[figure, value] for figure, value in figures])

    if len(measured) > 1:
        print()
        names = list(measured)
        figures_of = [dict(measured[name]) for name in names]
        rows = [
            [figure] + [f.get(figure, "") for f in figures_of] for figure, _ in measured[names[0]]
        ]
        print_table(["figure", *names], rows)


if __name__ == "__main__":
    main()
