"""Entry point of a task process: ``python -m taskstate.runtime FD``.

``FD`` is the task process's end of a socket pair whose other end the supervisor holds. The
process loads the DAG, builds the context, fetches the upstream outputs (and XComs) the task's
arguments take, renders the templated fields and prepares the operator this task instance runs
(``task.prepare``: output references resolved, the instance's mapped values applied), then runs
it (``op.run``: ``pre_execute``, ``execute``, ``post_execute``) with the context reachable
through ``get_current_context()``. Templates are rendered before the outputs are put in, so that
an upstream's value is never rendered, as in Airflow (a classic operator mapped with
``partial().expand()`` is built per instance first, then rendered).

Once the task returned, its output is stored (and, for ``multiple_outputs``, each item as its own
XCom), then its asset events are recorded: events say the asset was written, which only a try
that succeeded did. The exit code tells the supervisor how the task ended (``EXIT_*`` in
:mod:`taskstate.contracts.frames`): ``AirflowSkipException`` ends it skipped,
``AirflowFailException`` fails it without retry, any other exception fails the try;
``DownstreamTasksSkipped`` (a branch or short circuit that skipped tasks) ends it successful
with no output.
"""

from __future__ import annotations

import copy
import logging
import socket
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from taskstate.contracts.frames import (
    EXIT_FAILED_NO_RETRY,
    EXIT_SETUP_FAILED,
    EXIT_SKIPPED,
    EXIT_SUCCESS,
    EXIT_TASK_FAILED,
    FrameSocket,
    StartTask,
    TaskStarting,
)
from taskstate.errors import TaskStateError
from taskstate.runtime.asset_events import record_asset_events
from taskstate.runtime.comms import SupervisorComms
from taskstate.runtime.context import build_context
from taskstate.runtime.outputs import fetch_outputs, send_output
from taskstate.runtime.task_logging import TASK_LOGGER, configure_task_logging
from taskstate.runtime.templates import render_template_fields
from taskstate.runtime.termination import raise_on_sigterm
from taskstate.runtime.worker_backend import load_worker_backend
from taskstate.runtime.xcom import push_multiple_outputs, xcom_pull
from taskstate.sdk.context import running_task
from taskstate.sdk.dag_decorator import resolve_dag_params
from taskstate.sdk.exceptions import (
    AirflowFailException,
    AirflowSkipException,
    DownstreamTasksSkipped,
)
from taskstate.sdk.loader import load_dag
from taskstate.sdk.mapped import MappedOperator
from taskstate.sdk.node import AbstractOperator

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


Renderer = Callable[[Any, Mapping[str, Any]], None]


def _prepare(
    task: AbstractOperator,
    start: StartTask,
    comms: SupervisorComms,
    context: dict[str, Any],
    render: Renderer,
) -> Any:
    """The operator of this task instance, rendered and with its inputs in place."""
    outputs: dict[Any, Any] = fetch_outputs(comms, start.ti, task.output_task_ids)
    for task_id, key in sorted(task.output_keys):
        outputs[(task_id, key)] = xcom_pull(comms, start.ti, task_ids=task_id, key=key)
    if isinstance(task, MappedOperator):
        op = task.prepare(start.ti.map_index, outputs)
        resolve_dag_params(op, context)
        render(op, context)
        return op
    unrendered = copy.copy(task)
    resolve_dag_params(unrendered, context)
    render(unrendered, context)
    return unrendered.prepare(start.ti.map_index, outputs)


def _run(comms: SupervisorComms) -> int:
    try:
        start = comms.receive_start()
        configure_task_logging(start.log_level)
        raise_on_sigterm()
        dag = load_dag(start.dag_file, start.ti.dag_id)
        task = dag.tasks.get(start.ti.task_id)
        if task is None:
            print(f"error: DAG {dag.dag_id!r} has no task {start.ti.task_id!r}", file=sys.stderr)
            return EXIT_SETUP_FAILED
        worker = load_worker_backend(start.worker_backend)
        folder = Path(start.dag_file).parent

        def render(op: Any, ctx: Mapping[str, Any]) -> None:
            render_template_fields(op, ctx, folder=folder)

        context = build_context(start, dag, task, comms, worker)
        op = _prepare(task, start, comms, context, render)
        context["task"] = op
        comms.send(TaskStarting())
    except TaskStateError as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_SETUP_FAILED
    outlets = context["outlet_events"]
    log = logging.getLogger(TASK_LOGGER)
    result: Any = None
    try:
        with running_task(context, render):
            result = op.run(context)
    except DownstreamTasksSkipped as exc:
        # A branch or short circuit that skipped tasks succeeds without a return value.
        log.info("Skipping downstream tasks %s", exc.tasks)
    except AirflowSkipException as exc:
        log.info("Task skipped: %s", exc)
        return EXIT_SKIPPED
    except AirflowFailException as exc:
        log.error("Task failed with exception (no retry)", exc_info=exc)
        return EXIT_FAILED_NO_RETRY
    except SystemExit as exc:
        if exc.code not in (0, None):
            print(f"task exited with sys.exit({exc.code!r})", file=sys.stderr)
            return EXIT_TASK_FAILED
    except BaseException as exc:
        log.error("Task failed with exception", exc_info=exc)
        return EXIT_TASK_FAILED
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    return _report(comms, start, op, result, outlets)


def _report(comms: SupervisorComms, start: StartTask, op: Any, result: Any, outlets: Any) -> int:
    """Store what a task that succeeded returned, then record its asset events."""
    limit = start.max_value_bytes
    try:
        if getattr(op, "do_xcom_push", True):
            if getattr(op, "multiple_outputs", False):
                push_multiple_outputs(comms, result, limit)
            send_output(comms, result, max_bytes=limit)
    except TaskStateError as exc:
        print(
            f"error: the return value of {op.task_id!r} cannot be stored as its output: "
            f"{type(exc).__name__}: {exc}",
            file=sys.stderr,
        )
        return EXIT_TASK_FAILED
    try:
        record_asset_events(comms, outlets, max_bytes=limit)
    except TaskStateError as exc:
        print(
            f"error: the asset events cannot be recorded: {type(exc).__name__}: {exc}",
            file=sys.stderr,
        )
        return EXIT_TASK_FAILED
    return EXIT_SUCCESS
