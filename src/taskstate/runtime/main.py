"""Entry point of a task process: ``python -m taskstate.runtime FD``.

``FD`` is the task process's end of a socket pair whose other end the supervisor holds. The exit
code tells the supervisor how the task ended (``EXIT_*`` in :mod:`taskstate.runtime.protocol`).
"""

from __future__ import annotations

import socket
import sys
import traceback
from typing import Any

from taskstate.errors import TaskStateError
from taskstate.runtime.asset_events import collect_metadata, record_asset_events
from taskstate.runtime.comms import SupervisorComms
from taskstate.runtime.context import build_context, call_task
from taskstate.runtime.outputs import fetch_outputs, send_output
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
        worker = load_worker_backend(start.worker_backend)
        # The upstream outputs the arguments take; a mapped instance picks its own item.
        outputs = fetch_outputs(comms, start.ti, task.output_task_ids)
        task_args, task_kwargs = task.arguments_for(start.ti.map_index, outputs)
    except TaskStateError as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_SETUP_FAILED
    context = build_context(start, dag, task, comms, worker)
    outlets = context["outlet_events"]
    result: Any = None
    try:
        # A task function that yields Metadata is drained here, inside the user's code.
        result = collect_metadata(call_task(task, context, task_args, task_kwargs), outlets)
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
    try:
        send_output(comms, result, max_bytes=start.max_value_bytes)
    except TaskStateError as exc:
        print(
            f"error: the return value of {task.task_id!r} cannot be stored as its output: "
            f"{type(exc).__name__}: {exc}",
            file=sys.stderr,
        )
        return EXIT_TASK_FAILED
    try:
        # Last: the events say the asset was written, which only a try that succeeded did.
        record_asset_events(comms, outlets, max_bytes=start.max_value_bytes)
    except TaskStateError as exc:
        print(
            f"error: the asset events cannot be recorded: {type(exc).__name__}: {exc}",
            file=sys.stderr,
        )
        return EXIT_TASK_FAILED
    return EXIT_SUCCESS
