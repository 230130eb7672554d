"""A large value through the worker-side ``ObjectStorageStateBackend``: time and peak RSS of
``set`` and ``get`` in the task, the bytes that went through the API server, and the object on
disk.

    python benchmarks/large_value.py [--size-mb 200] [--runs 3]

Each run starts the API server in this process (uvicorn in a thread, its app wrapped in a
middleware that counts request and response body bytes) over a fresh ``TASKSTATE_HOME``, then
runs ``benchmarks/dags/large_value_dag.py`` with ``taskstate dags test --api-url`` from another
fresh home, with ``[workers] state_backend = "object_storage"`` rooted in a fresh folder. The
DAG's tasks store a string and a list of strings, each about ``--size-mb`` MiB of JSON, and read
them back. A last run, without a worker backend, shows that the default refuses such a value.
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from taskstate.api.keys import client_api_key
from taskstate.api.server import EmbeddedServer
from taskstate.config import load_settings

HERE = Path(__file__).resolve().parent
DAG_FILE = HERE / "dags" / "large_value_dag.py"
TASKSTATE = [sys.executable, "-m", "taskstate.cli"]
KINDS = ("str", "list")
MIB = 1024 * 1024


@dataclass
class Exchange:
    """One HTTP request the API server handled, and the body bytes each way."""

    method: str
    path: str
    request_bytes: int = 0
    response_bytes: int = 0


@dataclass
class ByteCounter:
    """ASGI middleware: records every HTTP exchange's body sizes, as the bytes pass."""

    app: ASGIApp
    exchanges: list[Exchange] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Recorded before the app runs and counted before each body is passed on, so the
        # figures are complete once the client has its reply.
        exchange = Exchange(scope["method"], scope["path"])
        self.exchanges.append(exchange)

        async def counting_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request":
                exchange.request_bytes += len(message.get("body", b""))
            return message

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.body":
                exchange.response_bytes += len(message.get("body", b""))
            await send(message)

        await self.app(scope, counting_receive, counting_send)


class CountingServer(EmbeddedServer):
    """The API server over ``home`` in a thread of this process, its traffic counted."""

    def __init__(self, home: Path) -> None:
        self.counter: ByteCounter | None = None
        settings = load_settings(env={"TASKSTATE_HOME": str(home), "HOME": str(home)})
        super().__init__(settings, middleware=self._count)

    def _count(self, app: ASGIApp) -> ASGIApp:
        self.counter = ByteCounter(app)
        return self.counter

    @property
    def api_key(self) -> str:
        return client_api_key(self.settings)


def clean_environ() -> dict[str, str]:
    """This process's environment without any taskstate setting, so only ours apply."""
    return {k: v for k, v in os.environ.items() if not k.startswith("TASKSTATE")}


def run_dag(tmp: Path, mode: str, size_mb: float, worker_backend: bool) -> dict[str, Any]:
    """One ``dags test`` of the benchmark DAG against a counting server; its figures."""
    out = tmp / "out"
    out.mkdir()
    objects = tmp / "objects"
    env = {
        **clean_environ(),
        "TASKSTATE_HOME": str(tmp / "cli-home"),
        "BENCH_MODE": mode,
        "BENCH_SIZE_MB": str(size_mb),
        "BENCH_KINDS": ",".join(KINDS),
        "BENCH_OUT": str(out),
    }
    if worker_backend:
        env["TASKSTATE__WORKERS__STATE_BACKEND"] = "object_storage"
        env["TASKSTATE__WORKERS__STATE_BACKEND_KWARGS"] = json.dumps({"root": objects.as_uri()})
    with CountingServer(tmp / "server-home") as server:
        started = time.perf_counter()
        done = subprocess.run(
            [
                *TASKSTATE,
                "dags",
                "test",
                str(DAG_FILE),
                "--api-url",
                server.url,
            ],
            env={**env, "TASKSTATE_API_KEY": server.api_key},
            capture_output=True,
            text=True,
        )
        wall = time.perf_counter() - started
        assert server.counter is not None
        exchanges = list(server.counter.exchanges)
    if done.returncode != 0:
        sys.exit(f"{DAG_FILE.name} ({mode}) failed:\n{done.stdout}\n{done.stderr}")
    objects_on_disk = (
        {str(p.relative_to(objects)): p.stat().st_size for p in objects.rglob("*") if p.is_file()}
        if objects.exists()
        else {}
    )
    return {
        "wall_s": wall,
        "tasks": {p.stem: json.loads(p.read_text()) for p in out.glob("*.json")},
        "exchanges": exchanges,
        "objects": objects_on_disk,
    }


LABELS = {"str": "one string", "list": "list of 100-char strings"}

# Columns of the figures table: title, width, and the figure from the medians of one kind.
COLUMNS: list[tuple[str, int, Any]] = [
    ("JSON MiB", 9, lambda m: f"{m['json_bytes'] / MIB:.0f}"),
    ("set s", 7, lambda m: f"{m['set_s']:.2f}"),
    ("get s", 7, lambda m: f"{m['get_s']:.2f}"),
    ("RSS before", 11, lambda m: f"{m['rss_start_kb'] / 1024:.0f}"),
    ("with value", 11, lambda m: f"{m['rss_value_kb'] / 1024:.0f}"),
    ("peak set", 10, lambda m: f"{m['peak_set_kb'] / 1024:.0f}"),
    ("value gone", 11, lambda m: f"{m['rss_before_get_kb'] / 1024:.0f}"),
    ("peak get", 10, lambda m: f"{m['peak_get_kb'] / 1024:.0f}"),
    ("set ÷ JSON", 11, lambda m: f"{m['peak_set_kb'] * 1024 / m['json_bytes']:.2f}"),
    ("get ÷ JSON", 11, lambda m: f"{m['peak_get_kb'] * 1024 / m['json_bytes']:.2f}"),
]


def progress(i: int, runs: int, run: dict[str, Any]) -> None:
    times = ", ".join(
        f"{kind} set {t['set_s']:.2f} s get {t['get_s']:.2f} s"
        for kind in KINDS
        for t in [run["tasks"][f"large_{kind}"]]
    )
    http_in = sum(e.request_bytes for e in run["exchanges"])
    http_out = sum(e.response_bytes for e in run["exchanges"])
    print(
        f"run {i + 1}/{runs}: {times}; API server {http_in} B in, {http_out} B out; "
        f"dags test {run['wall_s']:.1f} s",
        file=sys.stderr,
        flush=True,
    )


def print_figures(runs: list[dict[str, Any]], size_mb: float) -> None:
    print(
        f"\nA {size_mb:g} MiB value through ObjectStorageStateBackend (file://), "
        f"median of {len(runs)} runs; RSS of the task process in MiB"
    )
    print(
        f"{'value':<25}" + "".join(f"{title:>{width}}" for title, width, _ in COLUMNS) + "  equal"
    )
    for kind in KINDS:
        figures = [r["tasks"][f"large_{kind}"] for r in runs]
        medians = {
            name: statistics.median(f[name] for f in figures)
            for name, value in figures[0].items()
            if isinstance(value, int | float) and not isinstance(value, bool)
        }
        equal = "yes" if all(f["equal"] for f in figures) else "NO"
        cells = "".join(f"{show(medians):>{width}}" for _, width, show in COLUMNS)
        print(f"{LABELS[kind]:<25}{cells}{equal:>7}")
    print(
        "RSS before: before the value is built; value gone: after set, once the task dropped "
        "its value (get starts there);\npeak set, peak get: ru_maxrss, reset before each call; "
        "÷ JSON: peak RSS over the value's JSON size; equal: SHA-256 of the value read back."
    )
    if not all(t["peak_reset"] for r in runs for t in r["tasks"].values()):
        print("note: the kernel would not reset the peak RSS; 'peak get' includes the set")

    print("\nObjects on disk, last run:")
    for kind in KINDS:
        figures = runs[-1]["tasks"][f"large_{kind}"]
        size = runs[-1]["objects"].get(f"task/{figures['ti_id']}/value")
        same = "its JSON's size" if size == figures["json_bytes"] else "NOT its JSON's size"
        print(f"  {LABELS[kind]}: {size} bytes, {same}")
    others = len(runs[-1]["objects"]) - len(KINDS)
    if others:
        print(f"  and {others} other file(s)")

    http_in = [sum(e.request_bytes for e in r["exchanges"]) for r in runs]
    http_out = [sum(e.response_bytes for e in r["exchanges"]) for r in runs]
    largest = max(max(e.request_bytes, e.response_bytes) for r in runs for e in r["exchanges"])
    print(
        f"\nBodies through the API server in one `dags test` (run registry, task starts, "
        f"heartbeats, state): median {statistics.median(http_in):.0f} B in, "
        f"{statistics.median(http_out):.0f} B out, "
        f"{statistics.median(len(r['exchanges']) for r in runs):.0f} requests, "
        f"largest body {largest} B; the state requests of the last run:"
    )
    for e in runs[-1]["exchanges"]:
        if e.path.startswith("/execution/state/"):
            print(f"  {e.method} {e.path}: {e.request_bytes} B in, {e.response_bytes} B out")


def show_refusal(size_mb: float) -> None:
    print("\nThe default (SQLite metastore, no worker backend), one string:", flush=True)
    with tempfile.TemporaryDirectory(prefix="taskstate-large-") as tmp:
        run = run_dag(Path(tmp), "refused", size_mb, worker_backend=False)
    refused = run["tasks"]["refused"]
    sent = sum(e.request_bytes for e in run["exchanges"] if e.path.startswith("/execution/state/"))
    print(
        f"  set of {refused['json_bytes'] / MIB:.0f} MiB: {refused['error'] or 'NOT refused'} "
        f"after {refused['refused_s']:.2f} s, {sent} B sent to the state routes\n"
        f"  {refused['message']}"
    )
    if refused["error"] is None or "[state_store] max_value_bytes" not in refused["message"]:
        sys.exit("the default did not refuse the value with a ValueTooLargeError")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--size-mb", type=float, default=200, help="size of each value's JSON, MiB")
    parser.add_argument("--runs", type=int, default=3, help="runs of the DAG; medians printed")
    args = parser.parse_args()

    runs: list[dict[str, Any]] = []
    for i in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="taskstate-large-") as tmp:
            runs.append(run_dag(Path(tmp), "roundtrip", args.size_mb, worker_backend=True))
        progress(i, args.runs, runs[-1])
    print_figures(runs, args.size_mb)
    show_refusal(args.size_mb)


if __name__ == "__main__":
    main()
