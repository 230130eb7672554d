"""XComs in the task process: ``ti.xcom_push`` and ``ti.xcom_pull`` with Airflow 3's rules.

Values go through the supervisor to the execution API, which keeps them beside the task's
output (its ``return_value`` XCom) and serves only those of the task process's own DAG run. A
value is checked like an inline state value before it is sent, except that ``None`` is stored
as JSON ``null``, as Airflow stores it.

``xcom_pull`` returns what Airflow 3.3's ``xcom_pull`` returns:

* without ``map_indexes``: for each task, the values of all its instances that have the XCom,
  in map_index order (``None`` for a task where none has it); a single task id (or none, which
  means the calling task) whose values are exactly one gives that value, otherwise the list;
  ``default`` is not used;
* with ``map_indexes`` (an int or a list of ints): one value per task and index, ``default``
  where it is missing; a single task id with an int index gives that value, otherwise the list,
  ordered by task id then index.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from taskstate.contracts.frames import (
    PullXCom,
    PushXCom,
)
from taskstate.contracts.types import TaskInstanceInfo
from taskstate.errors import InvalidValueError, UsageError
from taskstate.runtime.comms import SupervisorComms
from taskstate.state.codec import check_size, decode_value, encode_value, validate_key

__all__ = ["RETURN_VALUE", "push_multiple_outputs", "xcom_pull", "xcom_push"]

RETURN_VALUE = "return_value"
"""The XCom key of a task's return value (the server's ``taskstate.db.models.RETURN_VALUE``)."""


def _encode(value: Any, max_bytes: int) -> bytes:
    if value is None:
        check_size(4, max_bytes)
        return b"null"
    return encode_value(value, max_bytes=max_bytes)


def xcom_push(comms: SupervisorComms, key: str, value: Any, max_bytes: int) -> None:
    """Store ``value`` as XCom ``key`` of the running try (``return_value`` replaces the
    output). A bad key or value raises the error a state key or value would; nothing is sent."""
    validate_key(key)
    comms.send(PushXCom(key=key, data=_encode(value, max_bytes)))


def push_multiple_outputs(comms: SupervisorComms, value: Any, max_bytes: int) -> None:
    """Push each item of the dict a ``multiple_outputs`` task returned as its own XCom.

    As in Airflow, a task that returned None pushes nothing, and anything but a dict with str
    keys is refused before any item is sent. The return value itself is the task's output and
    is stored apart from these (as Airflow pushes it too).
    """
    if value is None:
        return
    if not isinstance(value, Mapping):
        raise InvalidValueError(
            f"a multiple_outputs task must return a dict, not {type(value).__name__}",
            detail={"type": type(value).__name__},
        )
    for key in value:
        if not isinstance(key, str):
            raise InvalidValueError(
                "the dict a multiple_outputs task returns must have str keys, found "
                f"{key!r} ({type(key).__name__})",
                detail={"key": repr(key)},
            )
    encoded = [(validate_key(k), _encode(v, max_bytes)) for k, v in value.items()]
    for key, data in encoded:
        comms.send(PushXCom(key=key, data=data))


def _indexes(map_indexes: int | Iterable[int]) -> list[int]:
    if isinstance(map_indexes, bool | str | bytes) or not isinstance(map_indexes, int | Iterable):
        raise UsageError(
            f"map_indexes takes an int or a list of ints, not {type(map_indexes).__name__}"
        )
    found = [map_indexes] if isinstance(map_indexes, int) else list(map_indexes)
    for index in found:
        if isinstance(index, bool) or not isinstance(index, int):
            raise UsageError(f"map_indexes holds {index!r}, which is not an int")
    return found


def _task_ids(task_ids: str | Iterable[str] | None, own: str) -> list[str]:
    if task_ids is None:
        return [own]
    if isinstance(task_ids, str):
        return [task_ids]
    found = list(task_ids)
    for task_id in found:
        if not isinstance(task_id, str):
            raise UsageError(f"task_ids holds {task_id!r}, which is not a task id")
    return found


def _value(data: bytes | None) -> Any:
    return None if data is None else decode_value(data)


def xcom_pull(
    comms: SupervisorComms,
    ti_info: TaskInstanceInfo,
    *,
    task_ids: str | Iterable[str] | None = None,
    key: str = RETURN_VALUE,
    map_indexes: int | Iterable[int] | None = None,
    default: Any = None,
    dag_id: str | None = None,
    run_id: str | None = None,
) -> Any:
    """XCom ``key`` of ``task_ids`` (by default the calling task) in the task process's own
    run, shaped as the module docstring says. ``dag_id`` and ``run_id`` may only name that
    run: the server refuses any other with ``PermissionDeniedError``."""
    validate_key(key)
    single_task = task_ids is None or isinstance(task_ids, str)
    tasks = _task_ids(task_ids, ti_info.task_id)
    dag_id = ti_info.dag_id if dag_id is None else dag_id
    run_id = ti_info.run_id if run_id is None else run_id
    if map_indexes is None:
        pulled: list[Any] = []
        for task_id in tasks:
            reply = comms.send(PullXCom(task_id, key, None, dag_id, run_id))
            if reply.values:
                pulled.extend(_value(v) for v in reply.values)
            else:
                pulled.append(None)
        return pulled[0] if single_task and len(pulled) == 1 else pulled
    indexes = _indexes(map_indexes)
    values: list[Any] = []
    for task_id in tasks:
        if not indexes:
            continue
        reply = comms.send(PullXCom(task_id, key, indexes, dag_id, run_id))
        values.extend(default if v is None else _value(v) for v in reply.values)
    if single_task and isinstance(map_indexes, int):
        return values[0]
    return values
