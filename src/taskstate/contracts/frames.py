"""Frames between a task process and its supervisor.

A frame is a 4-byte big-endian length followed by a msgpack-encoded :class:`Frame`:
``[id, body, error]``. The task process sends requests with increasing ids; the supervisor
answers each with a frame of the same id carrying the reply body, or an ``error`` of the form
``{code, message, detail}`` that the task process raises again as the same error class. The one
unsolicited frame is the first: the supervisor's :class:`StartTask`, with id 0.

A state request names its scope as a field (:mod:`taskstate.contracts.scopes`): one frame type
per operation, whichever state it is on.

Each request type names its reply type (``GetState(Request[StateReply])``), so
``send(request)`` returns the right type without narrowing by hand. JSON values travel as the
bytes of their JSON text, never re-encoded on the way.
"""

from __future__ import annotations

import socket
import struct
from typing import Any, ClassVar, Generic, TypeVar

import msgspec

from taskstate.contracts.scopes import FrameScope
from taskstate.contracts.types import AssetInfo, DagRunInfo, TaskInstanceInfo, WorkerBackendSpec
from taskstate.errors import CommsError

__all__ = [
    "EXIT_FAILED_NO_RETRY",
    "EXIT_SETUP_FAILED",
    "EXIT_SKIPPED",
    "EXIT_SUCCESS",
    "EXIT_TASK_FAILED",
    "AssetEventInfo",
    "AssetEventsReply",
    "ClearState",
    "DeleteState",
    "Frame",
    "FrameSocket",
    "GetAssetEvents",
    "GetState",
    "GetTaskOutput",
    "OutputReply",
    "PullXCom",
    "PurgeDone",
    "PurgedReply",
    "PushXCom",
    "RecordAssetEvents",
    "RemovedRefs",
    "Reply",
    "Request",
    "SetReply",
    "SetState",
    "SetTaskOutput",
    "StartTask",
    "StateReply",
    "TaskStarting",
    "XComReply",
]

MAX_FRAME_BYTES = 256 * 1024 * 1024

# Exit codes of the task process: how it ended, as the supervisor reads it.
EXIT_SUCCESS = 0  # the task returned
# The two failure codes are far from the 1 and 2 a task's own os._exit() would likely use.
EXIT_TASK_FAILED = 101  # the task raised (the traceback is in its output)
EXIT_SETUP_FAILED = 102  # the DAG file, the task or the worker backend could not be loaded
EXIT_SKIPPED = 103  # the task skipped itself (AirflowSkipException): the try ends skipped
EXIT_FAILED_NO_RETRY = 104  # the task failed for good (AirflowFailException): no retry
_HEADER = struct.Struct(">I")

R = TypeVar("R")


# -- replies ------------------------------------------------------------------------------------


class Reply(msgspec.Struct, tag=True, omit_defaults=True):
    """Base of reply bodies."""


class StateReply(Reply):
    """What is stored for a key: JSON text, or a reference written by ``ref_backend``.

    Both ``data`` and ``ref_backend`` are None when the key is missing; a delete answers with
    what it removed. ``version`` (0: none kept), ``expires_at`` (ISO 8601) and ``written_by``
    (JSON text) describe the stored key.
    """

    data: bytes | None = None
    ref_backend: str | None = None
    version: int = 0
    expires_at: str | None = None
    written_by: str | None = None
    encryption: str | None = None
    """The id of the key ``data`` (or what its reference names) is encrypted with; None: plain."""
    claim: str | None = None
    """In a delete's answer holding a reference: the claim to purge its object under, then
    to report with :class:`PurgeDone`."""


class SetReply(Reply):
    """The version a set gave the key (0 with a backend that keeps none), and, for a set of a
    reference, the objects it replaced that the task purges under ``claim``."""

    version: int = 0
    refs: list[tuple[str, str]] = msgspec.field(default_factory=list)
    claim: str | None = None


class RemovedRefs(Reply):
    """The references a clear removed, each with the class path of the backend that wrote it."""

    refs: list[tuple[str, str]] = msgspec.field(default_factory=list)
    claim: str | None = None
    """The claim to purge these objects under, then to report with :class:`PurgeDone`."""


class PurgedReply(Reply):
    """The number of the newest purge finished (see ``taskstate.api.purge``)."""

    purged_through: int = 0


# -- requests -----------------------------------------------------------------------------------


class Request(msgspec.Struct, Generic[R], tag=True, omit_defaults=True):
    """Base of requests; ``R`` is the reply type (None for a bare acknowledgement)."""

    reply_type: ClassVar[type[Any] | None] = None


class GetState(Request[StateReply]):
    reply_type = StateReply
    scope: FrameScope
    key: str


class SetState(Request[SetReply]):
    reply_type = SetReply
    scope: FrameScope
    key: str
    data: bytes
    ref_backend: str | None = None
    retention: float | str | None = None
    """Seconds the key stays visible, or ``"never"``; None: the server's default."""
    if_version: int | None = None
    """Write only if the key is at this version (0: only if it does not exist)."""
    encryption: str | None = None
    """The id of the key the value is encrypted with (see :mod:`taskstate.runtime.encryption`)."""
    restored_after: int = 0
    """With a reference: the newest purge the task saw finish before it stored the object."""


class DeleteState(Request[StateReply]):
    reply_type = StateReply
    scope: FrameScope
    key: str
    if_version: int | None = None
    """Delete only if the key is at this version."""


class ClearState(Request[RemovedRefs]):
    reply_type = RemovedRefs
    scope: FrameScope


class PurgeDone(Request[PurgedReply]):
    """The objects of a delete's or clear's ``claim`` are purged."""

    reply_type = PurgedReply
    claim: str


# -- task outputs -------------------------------------------------------------------------------


class OutputReply(Reply):
    """A task's output as JSON text; None when it returned nothing (or has not run yet)."""

    data: bytes | None = None


class SetTaskOutput(Request[None]):
    """The JSON text of what the task function returned (sent only when it is not None)."""

    data: bytes


class GetTaskOutput(Request[OutputReply]):
    """The output of a task of the task process's own DAG run (the list of its instances'
    outputs, in map_index order, if it is mapped)."""

    reply_type = OutputReply
    dag_id: str
    run_id: str
    task_id: str


# -- XComs ---------------------------------------------------------------------------------------


class XComReply(Reply):
    """The JSON texts of the XComs asked for; None where there is none (or it is null).

    For a :class:`PullXCom` with ``map_indexes``, one entry per index, in their order; without,
    one entry per map index that has the XCom, in map_index order (empty: no instance has it).
    """

    values: list[bytes | None] = msgspec.field(default_factory=list)


class PushXCom(Request[None]):
    """Store an XCom of the running try under ``key`` (``return_value`` is the output)."""

    key: str
    data: bytes


class PullXCom(Request[XComReply]):
    """XComs ``key`` of task ``task_id`` of the task process's own run (``dag_id`` and
    ``run_id`` None), at ``map_indexes``, or at every map index that has one when None."""

    reply_type = XComReply
    task_id: str
    key: str
    map_indexes: list[int] | None = None
    dag_id: str | None = None
    run_id: str | None = None


# -- asset events -------------------------------------------------------------------------------


class AssetEventInfo(msgspec.Struct, frozen=True):
    """One recorded event of an asset; ``extra`` is the JSON text of an object."""

    id: int
    asset: str
    uri: str
    extra: bytes
    source_dag_id: str | None
    source_run_id: str | None
    source_task_id: str | None
    source_map_index: int
    timestamp: str
    """When it was recorded, ISO 8601 with its UTC offset."""


class AssetEventsReply(Reply):
    events: list[AssetEventInfo] = msgspec.field(default_factory=list)


class RecordAssetEvents(Request[None]):
    """The events of a try that succeeded, each ``(asset name, JSON text of its extra)``; sent
    once, as the task process's last request. Only assets the task declares as outlets; then
    ``alias_events``, each ``(alias, asset name, asset uri, extra)``, added through an alias the
    task declares as an outlet, on any asset (registered by the server if new)."""

    events: list[tuple[str, bytes]]
    alias_events: list[tuple[str, str, str, bytes]] = []


class GetAssetEvents(Request[AssetEventsReply]):
    """Events of ``asset_name``, an asset the task declares: oldest first unless not
    ``ascending``, at most ``limit`` (None: all), recorded after ``after`` and before
    ``before`` (ISO 8601) when given."""

    reply_type = AssetEventsReply
    asset_name: str
    limit: int | None = None
    ascending: bool = True
    after: str | None = None
    before: str | None = None


# -- start-up -----------------------------------------------------------------------------------


class TaskStarting(Request[None]):
    """Sent right before the task is called (its DAG file loaded, its arguments fetched): the
    try's ``execution_timeout`` counts from here, as Airflow's covers the task's execution."""


class StartTask(msgspec.Struct, tag=True):
    """The supervisor's first frame: everything the task process needs to run the task."""

    ti: TaskInstanceInfo
    dag_file: str
    assets: list[AssetInfo]
    max_value_bytes: int
    dag_run: DagRunInfo[bytes]
    worker_backend: WorkerBackendSpec | None = None
    log_level: str = "INFO"
    """``[logging] level``: the task process's root logger level."""
    encryption_keys: list[tuple[str, bytes]] = []
    """``[workers] encryption_keys``, ``(id, key)`` each, the one that encrypts first."""


Body = (
    GetState
    | SetState
    | DeleteState
    | ClearState
    | PurgeDone
    | StateReply
    | SetReply
    | RemovedRefs
    | PurgedReply
    | StartTask
    | SetTaskOutput
    | GetTaskOutput
    | OutputReply
    | TaskStarting
    | PushXCom
    | PullXCom
    | XComReply
    | RecordAssetEvents
    | GetAssetEvents
    | AssetEventsReply
)


class Frame(msgspec.Struct, array_like=True, omit_defaults=True):
    id: int
    body: Body | None = None
    error: dict[str, Any] | None = None


class FrameSocket:
    """Blocking, length-prefixed frame I/O on a connected stream socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._encoder = msgspec.msgpack.Encoder()
        self._decoder = msgspec.msgpack.Decoder(Frame)
        self._header = bytearray(_HEADER.size)

    def send(self, frame: Frame) -> None:
        payload = self._encoder.encode(frame)
        try:
            self.sock.sendall(_HEADER.pack(len(payload)) + payload)
        except OSError as exc:
            raise CommsError(f"cannot send to the other side of the task socket: {exc}") from exc

    def receive(self) -> Frame | None:
        """The next frame, or None when the other side closed the socket."""
        if not self._read_into(memoryview(self._header)):
            return None
        (size,) = _HEADER.unpack(self._header)
        if size > MAX_FRAME_BYTES:
            raise CommsError(f"frame of {size} bytes is over the limit of {MAX_FRAME_BYTES}")
        payload = bytearray(size)
        if not self._read_into(memoryview(payload)):
            raise CommsError("the task socket closed in the middle of a frame")
        try:
            return self._decoder.decode(payload)
        except msgspec.DecodeError as exc:
            raise CommsError(f"malformed frame: {exc}") from exc

    def _read_into(self, view: memoryview) -> bool:
        got = 0
        while got < len(view):
            try:
                n = self.sock.recv_into(view[got:])
            except OSError as exc:
                raise CommsError(f"cannot read from the task socket: {exc}") from exc
            if n == 0:
                if got == 0:
                    return False
                raise CommsError("the task socket closed in the middle of a frame")
            got += n
        return True

    def close(self) -> None:
        self.sock.close()
