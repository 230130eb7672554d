"""The types both the frames and the execution API's bodies carry.

A try's task instance, the assets its task declares and its DAG run travel from the API server to
the supervisor as JSON and on to the task process as msgpack, as the same structs. The run's
``conf`` is the one field whose form differs: the HTTP body passes it through as raw JSON text
(``DagRunInfo[msgspec.Raw]``), a frame carries the bytes of that text (``DagRunInfo[bytes]``).
"""

from __future__ import annotations

from typing import Any, Generic, TypeVar

import msgspec

__all__ = ["AssetInfo", "DagRunInfo", "TaskInstanceInfo", "WorkerBackendSpec"]

C = TypeVar("C", bytes, msgspec.Raw)


class TaskInstanceInfo(msgspec.Struct, frozen=True):
    """Who a try is: the ``ti`` of the task's context."""

    id: str
    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    try_number: int


class AssetInfo(msgspec.Struct, frozen=True):
    """An asset the task declares, and how: as an inlet, an outlet, or both."""

    name: str
    uri: str
    inlet: bool = False
    outlet: bool = False


class DagRunInfo(msgspec.Struct, Generic[C], frozen=True):
    """The run a try belongs to, for ``context["dag_run"]`` and the dates of the context.

    Dates are ISO 8601 text (None, all three, for a run without a logical date); ``conf`` is
    the JSON text of the run's conf, an object (``{}`` when the run was given none).
    """

    logical_date: str | None
    data_interval_start: str | None
    data_interval_end: str | None
    conf: C
    start_date: str

    def with_conf_bytes(self) -> DagRunInfo[bytes]:
        """The same run with ``conf`` as bytes, as a frame carries it."""
        return DagRunInfo(
            logical_date=self.logical_date,
            data_interval_start=self.data_interval_start,
            data_interval_end=self.data_interval_end,
            conf=bytes(self.conf),
            start_date=self.start_date,
        )


class WorkerBackendSpec(msgspec.Struct, frozen=True):
    """``[workers] state_backend`` and its kwargs, handed down to the task process."""

    path: str
    kwargs: dict[str, Any] = msgspec.field(default_factory=dict)
