"""The context a task function receives, and how it is passed in."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from taskstate.errors import UsageError
from taskstate.runtime import xcom
from taskstate.runtime.accessors import AssetState, AssetStates, TaskState
from taskstate.runtime.asset_events import event_accessors
from taskstate.runtime.comms import SupervisorComms
from taskstate.runtime.protocol import StartTask, TaskInstanceInfo
from taskstate.runtime.worker_backend import WorkerBackend
from taskstate.sdk.dag import DAG
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
    comms: SupervisorComms | None = field(default=None, repr=False, compare=False)
    max_value_bytes: int = field(default=0, repr=False, compare=False)

    def _comms(self) -> SupervisorComms:
        if self.comms is None:
            raise UsageError("this task instance is not connected to a supervisor")
        return self.comms

    def xcom_push(self, key: str, value: Any) -> None:
        """Publish ``value`` under ``key`` for the other tasks of the run."""
        xcom.xcom_push(self._comms(), key, value, self.max_value_bytes)

    def xcom_pull(
        self,
        task_ids: str | Iterable[str] | None = None,
        dag_id: str | None = None,
        key: str = xcom.RETURN_VALUE,
        include_prior_dates: bool = False,
        *,
        map_indexes: int | Iterable[int] | None = None,
        default: Any = None,
        run_id: str | None = None,
    ) -> Any:
        """XComs of tasks of this run, with Airflow's rules (see ``taskstate.runtime.xcom``)."""
        if include_prior_dates:
            raise UsageError(
                "xcom_pull(include_prior_dates=True) is not supported: XComs "
                "are read from the task's own DAG run only"
            )
        info = TaskInstanceInfo(
            self.id, self.dag_id, self.run_id, self.task_id, self.map_index, self.try_number
        )
        return xcom.xcom_pull(
            self._comms(),
            info,
            task_ids=task_ids,
            key=key,
            map_indexes=map_indexes,
            default=default,
            dag_id=dag_id,
            run_id=run_id,
        )


@dataclass(frozen=True, slots=True)
class DagRunInfo:
    """``context["dag_run"]``."""

    dag_id: str
    run_id: str


def build_context(
    start: StartTask,
    dag: DAG,
    task: Task,
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
        comms=comms,
        max_value_bytes=start.max_value_bytes,
    )
    limit = start.max_value_bytes
    outlet_events, inlet_events = event_accessors(comms, info, start.assets)
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
        "outlet_events": outlet_events,
        "inlet_events": inlet_events,
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
