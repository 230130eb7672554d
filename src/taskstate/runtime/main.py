"""Entry point of a task process: ``python -m taskstate.runtime FD``.

``FD`` is the task process's end of a socket pair whose other end the supervisor holds. The
process loads the DAG, fetches the upstream outputs the task's arguments take, and prepares the
operator this task instance runs (``task.prepare``: output references resolved, the instance's
mapped values applied). It then builds the context, resolves DAG params, renders the templated
fields and runs the operator (``op.run``: ``pre_execute``, ``execute``, ``post_execute``), with
the context reachable through ``get_current_context()``.
The exit code tells the supervisor how the task ended (``EXIT_*`` in
:mod:`taskstate.runtime.protocol`): ``AirflowSkipException`` ends it skipped,
``AirflowFailException`` fails it without retry, any other exception fails the try.
"""

from __future__ import annotations

import socket
import sys
import traceback
from typing import Any

from taskstate.errors import DagDefinitionError, TaskStateError
from taskstate.runtime.comms import SupervisorComms
from taskstate.runtime.context import build_context
from taskstate.runtime.outputs import fetch_outputs, send_output
from taskstate.runtime.protocol import (
    EXIT_FAILED_NO_RETRY,
    EXIT_SETUP_FAILED,
    EXIT_SKIPPED,
    EXIT_SUCCESS,
    EXIT_TASK_FAILED,
    FrameSocket,
)
from taskstate.runtime.templates import render_template_fields
from taskstate.runtime.worker_backend import load_worker_backend
from taskstate.sdk.context import running_task
from taskstate.sdk.dag_decorator import resolve_dag_params
from taskstate.sdk.exceptions import AirflowFailException, AirflowSkipException
from taskstate.sdk.loader import load_dag

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not args[0].isdigit():
        print("usage: python -m taskstate.runtime FD (started by a supervisor)", file=sys.stderr)
        return EXIT_SETUP_FAILED
    comms = SupervisorComms(FrameSocket(socket.socket(fileno=int(args[0]))))
    try:
        return _run(comms)
    finally:
        comms.close()


def _run(comms: SupervisorComms) -> int:
    try:
        start = comms.receive_start()
        dag = load_dag(start.dag_file, start.ti.dag_id)
        task = dag.tasks.get(start.ti.task_id)
        if task is None:
            print(f"error: DAG {dag.dag_id!r} has no task {start.ti.task_id!r}", file=sys.stderr)
            return EXIT_SETUP_FAILED
        worker = load_worker_backend(start.worker_backend)
        if task.output_keys:
            keys = sorted(task.output_keys)
            raise DagDefinitionError(
                f"task {task.task_id!r} takes XComs of other keys than return_value {keys}, "
                "which the task process cannot fetch yet"
            )
        # The upstream outputs the arguments take; a mapped instance picks its own item.
        outputs = fetch_outputs(comms, start.ti, task.output_task_ids)
        op = task.prepare(start.ti.map_index, outputs)
    except TaskStateError as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_SETUP_FAILED
    context = build_context(start, dag, op, comms, worker)
    result: Any = None
    try:
        with running_task(context, render_template_fields):
            resolve_dag_params(op, context)
            render_template_fields(op, context)
            result = op.run(context)
    except AirflowSkipException as exc:
        print(f"task skipped: {exc}", file=sys.stderr)
        return EXIT_SKIPPED
    except AirflowFailException:
        traceback.print_exc()
        return EXIT_FAILED_NO_RETRY
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
    if not getattr(op, "do_xcom_push", True):
        return EXIT_SUCCESS
    try:
        send_output(comms, result, max_bytes=start.max_value_bytes)
    except TaskStateError as exc:
        print(
            f"error: the return value of {task.task_id!r} cannot be stored as its output: "
            f"{type(exc).__name__}: {exc}",
            file=sys.stderr,
        )
        return EXIT_TASK_FAILED
    return EXIT_SUCCESS
