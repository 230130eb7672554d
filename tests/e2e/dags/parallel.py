"""a >> [b, c] >> d. b and c can only both succeed if they run at the same time: each creates
its own file, then waits (bounded) for the other's. Every task records when it ran."""

import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path

from taskstate.sdk import DAG, task

WAIT_SECONDS = 20.0


def _sync_dir() -> Path:
    return Path(os.environ["E2E_SYNC_DIR"])


def _record(name: str, started: float) -> None:
    times = {"start": started, "end": time.time()}
    (_sync_dir() / f"{name}.json").write_text(json.dumps(times))


def _meet(me: str, other: str) -> None:
    started = time.time()
    (_sync_dir() / f"{me}.here").touch()
    deadline = time.monotonic() + WAIT_SECONDS
    while not (_sync_dir() / f"{other}.here").exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{me}: {other} did not start within {WAIT_SECONDS}s")
        time.sleep(0.01)
    print(f"{me}: met {other}")
    _record(me, started)


with DAG(dag_id="e2e_parallel", start_date=datetime(2026, 1, 1, tzinfo=UTC)):

    @task
    def a():
        _record("a", time.time())

    @task
    def b():
        _meet("b", "c")

    @task
    def c():
        _meet("c", "b")

    @task
    def d():
        _record("d", time.time())

    a() >> [b(), c()] >> d()
