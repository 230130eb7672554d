"""XCom in the task process: ``ti.xcom_push`` and ``ti.xcom_pull`` call these.

A stand-in with the contract's signatures until the data branch's module replaces it: pulling
a task's ``return_value`` reads its output (``GetTaskOutput``; a mapped task's is the list over
its map indexes); other keys, ``map_indexes`` and pushing raise
:class:`~taskstate.errors.UsageError`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from taskstate.errors import UsageError
from taskstate.runtime.comms import SupervisorComms
from taskstate.runtime.protocol import GetTaskOutput, TaskInstanceInfo
from taskstate.state.codec import decode_value

__all__ = ["RETURN_VALUE", "xcom_pull", "xcom_push"]

RETURN_VALUE = "return_value"


def xcom_push(comms: SupervisorComms, key: str, value: Any, max_bytes: int) -> None:
    """Store ``value`` under ``key`` for the task instance."""
    raise UsageError(f"xcom_push({key!r}, ...): this build stores only a task's return value")


def xcom_pull(
    comms: SupervisorComms,
    ti_info: TaskInstanceInfo,
    *,
    task_ids: str | Iterable[str],
    key: str = RETURN_VALUE,
    map_indexes: int | Iterable[int] | None = None,
    default: Any = None,
) -> Any:
    """The ``key`` XCom of ``task_ids`` in the run of ``ti_info``: one value for one task id
    (a list over its map indexes if it is mapped), a list for several."""
    if key != RETURN_VALUE or map_indexes is not None:
        raise UsageError(
            f"xcom_pull(key={key!r}, map_indexes={map_indexes!r}): this build reads only "
            f"{RETURN_VALUE!r}, of every map index"
        )
    ids = [task_ids] if isinstance(task_ids, str) else list(task_ids)
    found = []
    for task_id in ids:
        request = GetTaskOutput(dag_id=ti_info.dag_id, run_id=ti_info.run_id, task_id=task_id)
        reply = comms.send(request)
        found.append(default if reply.data is None else decode_value(reply.data))
    return found[0] if isinstance(task_ids, str) else found
