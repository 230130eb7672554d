"""DAGs the fault suite runs. Each task reports itself in files under ``$FAULTS_DIR``: its pid
(to check that no task process is left), the keys whose ``set`` returned (acknowledged
writes), and its external side effects. A task that must be caught mid-run prints ``READY``
and waits for the file ``go``, which the test creates once it has injected its fault."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from taskstate.sdk import DAG, task

START = datetime(2026, 1, 1, tzinfo=UTC)
KEYS = 40
HALF = 10


def _dir() -> Path:
    return Path(os.environ["FAULTS_DIR"])


def _note(name: str, line: str) -> None:
    with (_dir() / name).open("a") as file:
        file.write(line + "\n")


def _wait_for_go() -> None:
    while not (_dir() / "go").exists():
        time.sleep(0.02)


with DAG(dag_id="faults_writes", schedule=None, start_date=START):

    @task(retries=2, retry_delay=timedelta(0))
    def writer(**context):
        """Sets KEYS keys; after HALF of them, waits for the fault; the rest go through it."""
        _note("pids", str(os.getpid()))
        state = context["task_state"]
        for i in range(KEYS):
            if state.get(f"k{i}") != i:
                state.set(f"k{i}", i)
            _note("acked", f"k{i}")
            if i == HALF:
                print("READY", flush=True)
                _wait_for_go()

    @task(retries=2, retry_delay=timedelta(0))
    def reader(**context):
        _note("pids", str(os.getpid()))
        state = context["task_state"]
        state.set("done", True)
        _note("acked", "done")

    writer() >> reader()


with DAG(dag_id="faults_side_effect", schedule=None, start_date=START):

    @task(retries=1, retry_delay=timedelta(0))
    def effect(ti):
        """Try 1 waits for ``go``, which try 2 creates: a try 1 still alive then would repeat
        the side effect beside try 2."""
        (_dir() / f"try{ti.try_number}.pids").write_text(f"{os.getpid()} {os.getppid()}")
        if ti.try_number == 1:
            print("READY", flush=True)
            _wait_for_go()
        else:
            (_dir() / "go").touch()
        _note("effects", f"try {ti.try_number}")

    effect()


with DAG(dag_id="faults_resume", schedule=None, start_date=START):

    @task
    def first(**context):
        context["task_state"].set("first", "done")
        _note("effects", "first")

    @task(retries=3, retry_delay=timedelta(0))
    def slow(ti, **context):
        """Checkpoints in its task state, then waits for ``go``: an interrupted try resumes
        from the checkpoint on its next try."""
        _note("pids", str(os.getpid()))
        state = context["task_state"]
        seen = state.get("checkpoint")
        print(f"checkpoint before: {seen}", flush=True)
        state.set("checkpoint", f"try {ti.try_number}")
        _note("acked", "checkpoint")
        print("READY", flush=True)
        _wait_for_go()
        _note("effects", f"slow try {ti.try_number}")

    @task
    def last():
        _note("effects", "last")

    first() >> slow() >> last()
