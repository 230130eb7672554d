"""The context a task function receives, and how it is passed in."""

from __future__ import annotations

import asyncio
import inspect
from dataclasses import dataclass
from typing import Any

from taskstate.runtime.accessors import AssetState, AssetStates, TaskState
from taskstate.runtime.comms import SupervisorComms
from taskstate.runtime.protocol import StartTask
from taskstate.runtime.worker_backend import WorkerBackend
from taskstate.sdk.dag import DAG
from taskstate.sdk.node import AbstractOperator
from taskstate.sdk.task import Task

__all__ = ["DagRunInfo", "TaskInstance", "build_context", "call_task"]


@dataclass(frozen=True, slots=True)
class TaskInstance:
    """``context["ti"]``: the running task instance; ``id`` is the same across its tries."""

    id: str
    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    try_number: int


@dataclass(frozen=True, slots=True)
class DagRunInfo:
    """``context["dag_run"]``."""

    dag_id: str
    run_id: str


def build_context(
    start: StartTask,
    dag: DAG,
    task: AbstractOperator,
    comms: SupervisorComms,
    worker: WorkerBackend | None,
) -> dict[str, Any]:
    info = start.ti
    ti = TaskInstance(
        id=info.id,
        dag_id=info.dag_id,
        run_id=info.run_id,
        task_id=info.task_id,
        map_index=info.map_index,
        try_number=info.try_number,
    )
    limit = start.max_value_bytes
    asset_states = [AssetState(comms, worker, limit, asset=asset) for asset in task.assets]
    return {
        "ti": ti,
        "task_instance": ti,
        "dag": dag,
        "task": task,
        "dag_run": DagRunInfo(dag_id=info.dag_id, run_id=info.run_id),
        "run_id": info.run_id,
        "map_index": info.map_index,
        "try_number": info.try_number,
        "task_state": TaskState(comms, worker, limit, ti_id=info.id),
        "asset_state": AssetStates(asset_states, task_id=info.task_id),
    }


def call_task(
    task: Task, context: dict[str, Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """Call the task's function with its arguments and the context it asks for; return what
    it returns.

    A function with ``**kwargs`` receives the whole context; otherwise each parameter named like
    a context key (``task_state``, ``ti``, ...) receives that entry.
    """
    function = task.python_callable
    kwargs = dict(kwargs)
    parameters = inspect.signature(function).parameters
    positional = list(parameters)[: len(args)]
    takes_all = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    for name, value in context.items():
        if name in kwargs or name in positional:
            continue
        if takes_all or name in parameters:
            kwargs[name] = value
    if task.is_async:
        return asyncio.run(function(*args, **kwargs))
    return function(*args, **kwargs)
