"""The context a task receives, with Airflow's keys, and how a task function is given it.

Keys: ``ti`` and ``task_instance`` (the same object), ``task``, ``dag``, ``dag_run``,
``run_id``, ``map_index``, ``params`` (the DAG's, the task's and the run's conf
over them, checked: :mod:`taskstate.sdk.params`), ``inlets``, ``outlets``, ``macros``, ``var``,
``conn``, ``task_state`` and ``asset_state`` with their Airflow 3.3.2 names
``task_state_store`` and ``asset_state_store`` (the very same objects). A run with a logical
date adds ``logical_date``, ``ds``, ``ds_nodash``, ``ts``, ``ts_nodash``, ``ts_nodash_with_tz``,
``data_interval_start``, ``data_interval_end`` and ``task_instance_key_str``, computed as
Airflow computes them. Airflow's ``prev_*`` keys are left out: they would cost a lookup of
earlier runs at every start.
"""

from __future__ import annotations

import json
from typing import Any

from taskstate.contracts.frames import StartTask
from taskstate.contracts.types import DagRunInfo
from taskstate.runtime import macros
from taskstate.runtime.accessors import AssetState, AssetStates, TaskState
from taskstate.runtime.asset_events import event_accessors
from taskstate.runtime.comms import SupervisorComms
from taskstate.runtime.connections import ConnectionAccessor
from taskstate.runtime.encryption import Keyring
from taskstate.runtime.task_instance import DagRun, RuntimeTaskInstance
from taskstate.runtime.variables import variables
from taskstate.runtime.worker_backend import WorkerBackend
from taskstate.sdk.dag import DAG
from taskstate.sdk.node import AbstractOperator
from taskstate.sdk.params import dag_params, resolve_params
from taskstate.state.types import TaskScope

__all__ = ["build_context", "dag_run_of"]


def _date(text: str | None) -> Any:
    if text is None:
        return None
    import pendulum  # here: a run without dates never needs it

    return pendulum.parse(text)


def dag_run_of(dag_id: str, run_id: str, info: DagRunInfo[bytes]) -> DagRun:
    """``context["dag_run"]`` from the run details of the start-up frame."""
    return DagRun(
        dag_id=dag_id,
        run_id=run_id,
        logical_date=_date(info.logical_date),
        data_interval_start=_date(info.data_interval_start),
        data_interval_end=_date(info.data_interval_end),
        start_date=_date(info.start_date),
        conf=json.loads(info.conf) if info.conf else {},
    )


def _date_keys(dag_run: DagRun, dag_id: str, task_id: str) -> dict[str, Any]:
    logical_date = dag_run.logical_date
    if logical_date is None:
        return {}
    ds = logical_date.strftime("%Y-%m-%d")
    ts = logical_date.isoformat()
    return {
        "logical_date": logical_date,
        "ds": ds,
        "ds_nodash": ds.replace("-", ""),
        "ts": ts,
        "ts_nodash": logical_date.strftime("%Y%m%dT%H%M%S"),
        "ts_nodash_with_tz": ts.replace("-", "").replace(":", ""),
        "data_interval_start": dag_run.data_interval_start,
        "data_interval_end": dag_run.data_interval_end,
        "task_instance_key_str": f"{dag_id}__{task_id}__{ds.replace('-', '')}",
    }


def build_context(
    start: StartTask,
    dag: DAG,
    task: AbstractOperator,
    comms: SupervisorComms,
    worker: WorkerBackend | None,
) -> dict[str, Any]:
    """The context of the task instance ``start`` describes; ParamValidationError when the
    params (the task's own included) are refused."""
    info = start.ti
    dag_run = dag_run_of(info.dag_id, info.run_id, start.dag_run)
    params = resolve_params(dag_params(dag), getattr(task, "params", None), dag_run.conf)
    ti = RuntimeTaskInstance(
        id=info.id,
        dag_id=info.dag_id,
        run_id=info.run_id,
        task_id=info.task_id,
        map_index=info.map_index,
        try_number=info.try_number,
        max_tries=getattr(task, "retries", 0),
        task=task,
        logical_date=dag_run.logical_date,
        _comms=comms,
        _info=info,
        _max_value_bytes=start.max_value_bytes,
    )
    limit = start.max_value_bytes
    scope = TaskScope(info.dag_id, info.run_id, info.task_id, info.map_index)
    keys = Keyring.from_wire(start.encryption_keys)
    task_state = TaskState(comms, worker, limit, ti_id=info.id, scope=scope, keyring=keys)
    assets = [AssetState(comms, worker, limit, asset=a, keyring=keys) for a in task.assets]
    asset_state = AssetStates(assets, task_id=info.task_id)
    aliases = [alias.name for alias in getattr(task, "outlet_aliases", ())]
    outlet_events, inlet_events = event_accessors(comms, info, start.assets, aliases)
    return {
        "dag": dag,
        "task": task,
        "ti": ti,
        "task_instance": ti,
        "dag_run": dag_run,
        "run_id": info.run_id,
        "map_index": info.map_index,
        **_date_keys(dag_run, info.dag_id, info.task_id),
        "params": params,
        "inlets": list(getattr(task, "inlets", ())),
        "outlets": list(getattr(task, "outlets", ())),
        "macros": macros,
        "var": variables(),
        "conn": ConnectionAccessor(),
        "task_state": task_state,
        "task_state_store": task_state,
        "asset_state": asset_state,
        "asset_state_store": asset_state,
        "outlet_events": outlet_events,
        "inlet_events": inlet_events,
    }
