"""The DAG behind ``benchmarks/large_value.py``: a task stores a large value and reads it back.

Settings come from the environment:

* ``BENCH_SIZE_MB``: the value's size as JSON text, in MiB (default 200);
* ``BENCH_KINDS``: comma-separated shapes, one task each, run one after another: ``str`` (one
  ASCII string) and ``list`` (strings of 100 characters);
* ``BENCH_MODE``: ``roundtrip`` (set, then get; for a worker-side backend) or ``refused`` (one
  ``set`` of a string, expected to fail with ``ValueTooLargeError``);
* ``BENCH_OUT``: the folder where each task writes its figures as ``<task_id>.json``.

The peak RSS of ``set`` and of ``get`` are told apart by resetting the process's high-water
mark between them (Linux: writing ``5`` to ``/proc/self/clear_refs``, which
``getrusage().ru_maxrss`` follows).
"""

import gc
import hashlib
import json
import os
import resource
import time
from datetime import UTC, datetime
from pathlib import Path

from taskstate.errors import ValueTooLargeError
from taskstate.sdk import DAG, task

MIB = 1024 * 1024
ITEM_CHARS = 100  # each list item is a string of this many characters: 103 bytes of JSON
HASH_CHARS = 8 * MIB  # a large string is hashed in slices, so hashing adds no copy of it

SIZE = int(float(os.environ.get("BENCH_SIZE_MB", "200")) * MIB)
KINDS = [k for k in os.environ.get("BENCH_KINDS", "str,list").split(",") if k]
MODE = os.environ.get("BENCH_MODE", "roundtrip")


def build(kind: str, size: int) -> tuple[object, int]:
    """A value of ``kind`` whose JSON text is about ``size`` bytes, and that exact size."""
    if kind == "str":
        pattern = "0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ "
        chars = size - 2
        text = pattern * (chars // len(pattern) + 1)
        return text[:chars], chars + 2
    if kind == "list":
        count = (size - 1) // (ITEM_CHARS + 3)
        filler = "v" * (ITEM_CHARS - 12)
        # Distinct strings, so the list costs its real size in memory.
        return [f"{i:012d}{filler}" for i in range(count)], count * (ITEM_CHARS + 3) + 1
    raise ValueError(f"unknown BENCH_KINDS entry {kind!r}: use str or list")


def digest(value: object) -> str:
    """SHA-256 of a str, or of a list of str, without building a second copy of it."""
    h = hashlib.sha256()
    if isinstance(value, str):
        for start in range(0, len(value), HASH_CHARS):
            h.update(value[start : start + HASH_CHARS].encode())
    elif isinstance(value, list):
        for item in value:
            h.update(item.encode())
            h.update(b"\0")
    else:
        raise TypeError(f"read back a {type(value).__name__}")
    return h.hexdigest()


def rss_kb() -> int:
    """The resident set size now, in KiB."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 1024


def peak_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def reset_peak() -> bool:
    """Bring the high-water mark down to the current RSS; False where the kernel cannot."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


def write_out(name: str, figures: dict[str, object]) -> None:
    Path(os.environ["BENCH_OUT"], f"{name}.json").write_text(json.dumps(figures))


def roundtrip(kind: str, task_state) -> None:  # type: ignore[no-untyped-def]
    gc.collect()
    rss_start = rss_kb()
    value, json_bytes = build(kind, SIZE)
    rss_value = rss_kb()
    expected = digest(value)
    gc.collect()

    reset = reset_peak()
    started = time.perf_counter()
    task_state.set("value", value)
    set_s = time.perf_counter() - started
    peak_set = peak_kb()

    del value
    gc.collect()
    rss_before_get = rss_kb()
    reset = reset_peak() and reset
    started = time.perf_counter()
    back = task_state.get("value")
    get_s = time.perf_counter() - started
    peak_get = peak_kb()
    write_out(
        f"large_{kind}",
        {
            "kind": kind,
            "ti_id": task_state.ti_id,
            "json_bytes": json_bytes,
            "set_s": set_s,
            "get_s": get_s,
            "rss_start_kb": rss_start,
            "rss_value_kb": rss_value,
            "rss_before_get_kb": rss_before_get,
            "peak_set_kb": peak_set,
            "peak_get_kb": peak_get,
            "peak_reset": reset,
            "equal": digest(back) == expected,
        },
    )


def refused(task_state) -> None:  # type: ignore[no-untyped-def]
    value, json_bytes = build("str", SIZE)
    started = time.perf_counter()
    try:
        task_state.set("value", value)
    except ValueTooLargeError as exc:
        outcome = {"error": type(exc).__name__, "message": str(exc)}
    else:
        outcome = {"error": None, "message": "stored"}
    write_out(
        "refused",
        {"json_bytes": json_bytes, "refused_s": time.perf_counter() - started, **outcome},
    )


with DAG(dag_id="bench_large_value", start_date=datetime(2026, 1, 1, tzinfo=UTC)):
    if MODE == "refused":
        task(refused)()
    else:
        previous = None
        for kind in KINDS:
            current = task(task_id=f"large_{kind}")(roundtrip)(kind)
            if previous is not None:
                previous >> current  # one at a time: each task has the machine to itself
            previous = current
