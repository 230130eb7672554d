import socket
import struct

import msgspec
import pytest

from taskstate.errors import CommsError
from taskstate.runtime.protocol import (
    DagRunInfo,
    Frame,
    FrameSocket,
    GetTaskOutput,
    GetTaskState,
    OutputReply,
    SetAssetState,
    SetTaskOutput,
    SetTaskState,
    StartTask,
    StateReply,
    TaskInstanceInfo,
    TaskStarting,
    WorkerBackendSpec,
)


def test_frames_round_trip_over_a_socket() -> None:
    a, b = socket.socketpair()
    left, right = FrameSocket(a), FrameSocket(b)
    frames = [
        Frame(
            0,
            StartTask(
                TaskInstanceInfo("id", "d", "r", "t", -1, 1),
                "/f.py",
                [],
                10,
                DagRunInfo("2026-03-01T00:00:00+00:00", None, None, b'{"x":2}', "2026-03-01"),
                WorkerBackendSpec("m.C", {"x": 1}),
            ),
        ),
        Frame(1, GetTaskState("a/b")),
        Frame(2, SetAssetState("orders", "k", b'{"v":1}', "m.C")),
        Frame(3, SetAssetState("orders", "k", b"1", None, 3600.0)),
        Frame(4, SetTaskState("k", b"1", None, "never")),
        Frame(5, StateReply(data=b"1")),
        Frame(6, error={"code": "invalid_key", "message": "m", "detail": {}}),
        Frame(7, SetTaskOutput(b"[1]")),
        Frame(8, GetTaskOutput("d", "r", "t")),
        Frame(9, OutputReply(data=b'{"a":1}')),
        Frame(10, OutputReply()),
        Frame(11, TaskStarting()),
        Frame(
            0,
            StartTask(
                TaskInstanceInfo("id", "d", "r", "t", 2, 1),
                "/f.py",
                [],
                10,
                DagRunInfo(None, None, None, b"{}", "2026-03-01"),
                log_level="DEBUG",
            ),
        ),
    ]
    for frame in frames:
        left.send(frame)
        assert right.receive() == frame
    left.close()
    assert right.receive() is None
    right.close()


def test_reply_type_is_named_by_the_request() -> None:
    assert GetTaskState.reply_type is StateReply
    assert SetAssetState.reply_type is None
    assert GetTaskOutput.reply_type is OutputReply
    assert SetTaskOutput.reply_type is None
    assert TaskStarting.reply_type is None


def test_truncated_and_oversized_frames_are_comms_errors() -> None:
    a, b = socket.socketpair()
    a.sendall(struct.pack(">I", 100) + b"short")
    a.close()
    with pytest.raises(CommsError, match="middle of a frame"):
        FrameSocket(b).receive()
    c, d = socket.socketpair()
    c.sendall(struct.pack(">I", 2**31))
    with pytest.raises(CommsError, match="over the limit"):
        FrameSocket(d).receive()
    e, f = socket.socketpair()
    e.sendall(struct.pack(">I", 3) + b"\xc1\xc1\xc1")
    with pytest.raises(CommsError, match="malformed"):
        FrameSocket(f).receive()
    for s in (b, c, d, e, f):
        s.close()


def test_a_set_frame_without_retention_reads_as_the_default() -> None:
    # What a task process from before retention sends: no retention field at all.
    old = msgspec.msgpack.encode([7, {"type": "SetTaskState", "key": "k", "data": b"1"}])
    frame = msgspec.msgpack.decode(old, type=Frame)
    assert frame.body == SetTaskState("k", b"1")
    assert frame.body.retention is None
    assert b"retention" not in msgspec.msgpack.encode(SetTaskState("k", b"1"))
