"""What the benchmark DAGs share: timing, results, and the handshake with `benchmarks/scale.py`.

The benchmark process listens on a Unix socket (``BENCH_SOCKET``); a task that must wait for it
(for rows to be loaded into its scope, or for its peers to be ready) sends one JSON line and
blocks until the answer line comes. Results go to ``BENCH_OUT/<task_id>_<map_index>.json``.
"""

import json
import os
import socket
import time
from collections.abc import Callable


def timed(n: int, op: Callable[[int], object]) -> list[int]:
    """Nanoseconds taken by each of ``op(0)`` ... ``op(n - 1)``."""
    samples = []
    for i in range(n):
        start = time.perf_counter_ns()
        op(i)
        samples.append(time.perf_counter_ns() - start)
    return samples


def ask(message: dict[str, object]) -> dict[str, object]:
    """Send ``message`` to the benchmark process and wait for its answer."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.connect(os.environ["BENCH_SOCKET"])
        sock.sendall(json.dumps(message).encode() + b"\n")
        with sock.makefile("rb") as reader:
            return json.loads(reader.readline())  # type: ignore[no-any-return]


def write_results(ti: object, results: dict[str, object]) -> None:
    """Write this task instance's results where the benchmark reads them."""
    name = f"{ti.task_id}_{ti.map_index}.json"  # type: ignore[attr-defined]
    with open(os.path.join(os.environ["BENCH_OUT"], name), "w") as f:
        json.dump(results, f)
