"""What hostile or heavy requests cost the API server: memory and other requests' latency.

1. **Unauthenticated bodies.** Four clients at once each send a 100 MB body without a key to
   ``POST /api/v1/dag-runs`` (streamed, so the clients hold no copy). The server's resident
   memory (``VmRSS``, and its high-water mark ``VmHWM``) is read from ``/proc`` before and after.
2. **A large run on SQLite.** One client creates a run of 40,000 task instances while another
   calls ``GET /health`` and a third lists the runs, each in a loop; the figures are the longest
   and median latencies of those calls while the creation lasts.

The server is ``taskstate api-server`` in its own process, over a fresh ``TASKSTATE_HOME``
(SQLite). Run from the repository root::

    .venv/bin/python benchmarks/bounds.py [--tasks 40000] [--body-mb 100] [--clients 4]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

CHUNK = b"x" * (1024 * 1024)
_MAIN = "import sys; from taskstate.cli.main import main; sys.exit(main())"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _memory(pid: int) -> dict[str, int]:
    """``VmRSS`` and ``VmHWM`` of ``pid`` in MB."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            found[name] = int(value.split()[0]) // 1024
    return found


class Server:
    def __init__(self, home: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "TASKSTATE_HOME": str(home), "TASKSTATE__API__API_KEYS": '["bench"]'}
        env.pop("TASKSTATE__DATABASE__URL", None)
        self.proc = subprocess.Popen(
            [sys.executable, "-c", _MAIN, "api-server", "--port", str(self.port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/health").status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError("the API server did not start")

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def _body(megabytes: int) -> Iterator[bytes]:
    for _ in range(megabytes):
        yield CHUNK


def unauthenticated_bodies(server: Server, clients: int, megabytes: int) -> None:
    before = _memory(server.proc.pid)
    statuses: list[str] = []

    def send() -> None:
        try:
            answer = httpx.post(
                f"{server.url}/api/v1/dag-runs",
                content=_body(megabytes),
                headers={"content-type": "application/json"},
                timeout=120,
            )
            statuses.append(str(answer.status_code))
        except httpx.HTTPError as exc:  # the server may close the connection mid-body
            statuses.append(type(exc).__name__)

    threads = [threading.Thread(target=send) for _ in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    took = time.monotonic() - started
    after = _memory(server.proc.pid)
    print(
        f"{clients} x {megabytes} MB unauthenticated bodies: RSS {before['VmRSS']} -> "
        f"{after['VmRSS']} MB (peak {after['VmHWM']} MB), answers {sorted(statuses)}, "
        f"{took:.2f} s"
    )


def large_run(server: Server, tasks: int) -> None:
    headers = {"authorization": "Bearer bench"}
    done = threading.Event()
    latencies: dict[str, list[float]] = {"health": [], "list runs": []}

    def poll(name: str, path: str) -> None:
        with httpx.Client(base_url=server.url, headers=headers, timeout=60) as client:
            while not done.is_set():
                started = time.perf_counter()
                client.get(path).raise_for_status()
                latencies[name].append(time.perf_counter() - started)
                time.sleep(0.005)

    pollers = [
        threading.Thread(target=poll, args=("health", "/health")),
        threading.Thread(target=poll, args=("list runs", "/api/v1/dag-runs?dag_id=other")),
    ]
    for thread in pollers:
        thread.start()
    time.sleep(0.2)
    body = {
        "dag_id": "big",
        "run_id": "r1",
        "tasks": [{"task_id": f"t{i}"} for i in range(tasks)],
    }
    started = time.monotonic()
    answer = httpx.post(f"{server.url}/api/v1/dag-runs", json=body, headers=headers, timeout=300)
    took = time.monotonic() - started
    done.set()
    for thread in pollers:
        thread.join()
    answer.raise_for_status()
    print(f"creating a run of {tasks} task instances: {took:.2f} s")
    for name, values in latencies.items():
        median, longest = statistics.median(values) * 1e3, max(values) * 1e3
        print(f"  {name}: {len(values)} calls, median {median:.1f} ms, max {longest:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=40_000)
    parser.add_argument("--body-mb", type=int, default=100)
    parser.add_argument("--clients", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        server = Server(Path(home))
        try:
            unauthenticated_bodies(server, args.clients, args.body_mb)
            large_run(server, args.tasks)
        finally:
            server.close()


if __name__ == "__main__":
    main()
