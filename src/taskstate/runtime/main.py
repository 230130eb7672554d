"""Entry point of a task process: ``python -m taskstate.runtime FD``.

``FD`` is the task process's end of a socket pair whose other end the supervisor holds. The exit
code tells the supervisor how the task ended (``EXIT_*`` in :mod:`taskstate.runtime.protocol`).
"""

from __future__ import annotations

import copy
import logging
import socket
import sys
from pathlib import Path
from types import SimpleNamespace
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
    TaskStarting,
)
from taskstate.runtime.task_logging import TASK_LOGGER, configure_task_logging
from taskstate.runtime.templates import render_template_fields
from taskstate.runtime.termination import raise_on_sigterm
from taskstate.runtime.worker_backend import load_worker_backend
from taskstate.sdk.loader import load_dag
from taskstate.sdk.task import Task

__all__ = ["main"]

_TASKFLOW_TEMPLATE_FIELDS = ("templates_dict", "op_args", "op_kwargs", "expand_kwargs")
"""What Airflow renders of a ``@task``: its call's arguments (and ``templates_dict``)."""


def _rendered(task: Task, context: dict[str, Any], folder: Path) -> Task:
    """A copy of the TaskFlow task with the literal values of its arguments rendered as Jinja
    templates, as Airflow renders a ``@task``'s arguments; upstream outputs, resolved later, are
    not rendered. Its ``templates_dict`` (rendered; None without one) joins the context, as
    Airflow's PythonOperator puts it there."""
    fields = SimpleNamespace(
        task_id=task.task_id,
        dag=task.dag,
        template_fields=_TASKFLOW_TEMPLATE_FIELDS,
        templates_dict=getattr(task, "templates_dict", None),
        op_args=task.op_args,
        op_kwargs=task.op_kwargs,
        expand_kwargs=task.expand_kwargs,
    )
    render_template_fields(fields, context, folder=folder)
    context["templates_dict"] = fields.templates_dict
    rendered = copy.copy(task)
    rendered.op_args = fields.op_args
    rendered.op_kwargs = fields.op_kwargs
    rendered.expand_kwargs = fields.expand_kwargs
    return rendered


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not args[0].isdigit():
        print("usage: python -m taskstate.runtime FD (started by a supervisor)", file=sys.stderr)
        return EXIT_SETUP_FAILED
    comms = SupervisorComms(FrameSocket(socket.socket(fileno=int(args[0]))))
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
        context = build_context(start, dag, task, comms, worker)
        # The upstream outputs the arguments take; a mapped instance picks its own item.
        outputs = fetch_outputs(comms, start.ti, task.output_task_ids)
        rendered = _rendered(task, context, Path(start.dag_file).parent)
        task_args, task_kwargs = rendered.arguments_for(start.ti.map_index, outputs)
        comms.send(TaskStarting())
    except TaskStateError as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_SETUP_FAILED
    outlets = context["outlet_events"]
    result: Any = None
    try:
        # A task function that yields Metadata is drained here, inside the user's code.
        result = collect_metadata(call_task(task, context, task_args, task_kwargs), outlets)
    except SystemExit as exc:
        if exc.code not in (0, None):
            print(f"task exited with sys.exit({exc.code!r})", file=sys.stderr)
            return EXIT_TASK_FAILED
    except BaseException as exc:
        logging.getLogger(TASK_LOGGER).error("Task failed with exception", exc_info=exc)
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
