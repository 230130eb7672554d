"""Task outputs in the task process: fetch the outputs a task's arguments take, send its own.

Both go through the supervisor to the execution API, which serves only outputs of the task
process's own DAG run. Outputs are JSON documents checked like inline state values (and
bounded by the same ``[state_store] max_value_bytes``); a worker-side backend never holds them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from taskstate.contracts.frames import (
    GetTaskOutput,
    SetTaskOutput,
)
from taskstate.contracts.types import TaskInstanceInfo
from taskstate.runtime.comms import SupervisorComms
from taskstate.state.codec import decode_value, encode_value

__all__ = ["fetch_outputs", "send_output"]


def fetch_outputs(
    comms: SupervisorComms, ti: TaskInstanceInfo, task_ids: Iterable[str]
) -> dict[str, Any]:
    """The output of each task of ``task_ids`` in ``ti``'s run (None where it returned None)."""
    outputs: dict[str, Any] = {}
    for task_id in sorted(task_ids):
        reply = comms.send(GetTaskOutput(dag_id=ti.dag_id, run_id=ti.run_id, task_id=task_id))
        outputs[task_id] = None if reply.data is None else decode_value(reply.data)
    return outputs


def send_output(comms: SupervisorComms, value: Any, *, max_bytes: int) -> None:
    """Store what the task returned, unless it returned None.

    A value that is not a JSON document, or is over ``max_bytes`` once encoded, raises the
    same typed error as a state value would, and nothing is stored.
    """
    if value is not None:
        comms.send(SetTaskOutput(data=encode_value(value, max_bytes=max_bytes)))
