"""Entry point of a task process: ``python -m taskstate.runtime FD``.

``FD`` is the task process's end of a socket pair whose other end the supervisor holds. The exit
code tells the supervisor how the task ended (``EXIT_*`` in :mod:`taskstate.runtime.protocol`).
"""

from __future__ import annotations

import socket
import sys
import traceback

from taskstate.errors import TaskStateError
from taskstate.runtime.comms import SupervisorComms
from taskstate.runtime.context import build_context, call_task
from taskstate.runtime.protocol import (
    EXIT_SETUP_FAILED,
    EXIT_SUCCESS,
    EXIT_TASK_FAILED,
    FrameSocket,
)
from taskstate.runtime.worker_backend import load_worker_backend
from taskstate.sdk.loader import load_dag

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not args[0].isdigit():
        print("usage: python -m taskstate.runtime FD (started by a supervisor)", file=sys.stderr)
        return EXIT_SETUP_FAILED
    comms = SupervisorComms(FrameSocket(socket.socket(fileno=int(args[0]))))
    try:
        start = comms.receive_start()
        dag = load_dag(start.dag_file, start.ti.dag_id)
        task = dag.tasks.get(start.ti.task_id)
        if task is None:
            print(f"error: DAG {dag.dag_id!r} has no task {start.ti.task_id!r}", file=sys.stderr)
            return EXIT_SETUP_FAILED
        if start.ti.map_index not in task.map_indices:
            print(
                f"error: task {task.task_id!r} has no map index {start.ti.map_index} "
                f"(it has {len(task.map_indices)} instances)",
                file=sys.stderr,
            )
            return EXIT_SETUP_FAILED
        worker = load_worker_backend(start.worker_backend)
    except TaskStateError as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_SETUP_FAILED
    context = build_context(start, dag, task, comms, worker)
    try:
        call_task(task, context)
    except SystemExit as exc:
        if exc.code not in (0, None):
            print(f"task exited with sys.exit({exc.code!r})", file=sys.stderr)
            return EXIT_TASK_FAILED
    except BaseException:
        traceback.print_exc()
        return EXIT_TASK_FAILED
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    return EXIT_SUCCESS
