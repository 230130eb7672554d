import socket
import struct
from typing import get_args

import msgspec
import pytest

from taskstate.contracts.frames import (
    AssetEventInfo,
    AssetEventsReply,
    Body,
    ClearState,
    DeleteState,
    Frame,
    FrameSocket,
    GetAssetEvents,
    GetState,
    GetTaskOutput,
    OutputReply,
    PullXCom,
    PurgeDone,
    PurgedReply,
    PushXCom,
    RecordAssetEvents,
    RemovedRefs,
    SetReply,
    SetState,
    SetTaskOutput,
    StartTask,
    StateReply,
    TaskStarting,
    XComReply,
)
from taskstate.contracts.scopes import AssetNamed, OwnTask
from taskstate.contracts.types import AssetInfo, DagRunInfo, TaskInstanceInfo, WorkerBackendSpec
from taskstate.errors import CommsError


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
        Frame(1, GetState(OwnTask(), "a/b")),
        Frame(2, SetState(AssetNamed("orders"), "k", b'{"v":1}', "m.C")),
        Frame(3, SetState(AssetNamed("orders"), "k", b"1", None, 3600.0)),
        Frame(4, SetState(OwnTask(), "k", b"1", None, "never")),
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


def test_every_frame_round_trips() -> None:
    """Each request and reply type, encoded and decoded alone, comes back equal."""
    info = TaskInstanceInfo("id", "d", "r", "t", -1, 1)
    run = DagRunInfo("2026-03-01T00:00:00+00:00", None, None, b'{"x":2}', "2026-03-01")
    event = AssetEventInfo(1, "a", "s3://a", b"{}", "d", "r", "t", -1, "2026-03-01T00:00:00+00:00")
    bodies = [
        GetState(OwnTask(), "k"),
        GetState(AssetNamed("orders"), "k"),
        SetState(OwnTask(), "k", b"1"),
        SetState(AssetNamed("orders"), "k", b"s3://b/o", "m.C", "never"),
        DeleteState(OwnTask(), "k"),
        DeleteState(AssetNamed("orders"), "k"),
        ClearState(OwnTask()),
        ClearState(AssetNamed("orders")),
        StateReply(),
        StateReply(data=b"s3://b/o", ref_backend="m.C"),
        SetState(OwnTask(), "k", b'"c2VhbGVk"', encryption="k1"),
        StateReply(data=b'"c2VhbGVk"', encryption="k1"),
        StartTask(info, "/f.py", [], 10, run, encryption_keys=[("k1", bytes(32))]),
        StateReply(b"1", None, 7, "2026-03-01T00:00:00+00:00", '{"x":1}', "k1"),
        SetReply(version=7),
        SetState(OwnTask(), "k", b"1", if_version=0),
        SetState(OwnTask(), "k", b'"c2VhbGVk"', None, None, 3, "k1"),
        DeleteState(AssetNamed("orders"), "k", if_version=9),
        RemovedRefs(refs=[("s3://b/o", "m.C")]),
        RemovedRefs(refs=[("s3://b/o", "m.C")], claim="c"),
        SetState(OwnTask(), "k", b"s3://b/o", "m.C", restored_after=4),
        SetReply(version=2, refs=[("s3://b/o", "m.C")], claim="c"),
        StateReply(data=b"s3://b/o", ref_backend="m.C", claim="c"),
        PurgeDone("c"),
        PurgedReply(purged_through=4),
        StartTask(info, "/f.py", [AssetInfo("a", "s3://a", inlet=True)], 10, run),
        SetTaskOutput(b"1"),
        GetTaskOutput("d", "r", "t"),
        OutputReply(data=b"1"),
        TaskStarting(),
        PushXCom("k", b"1"),
        PullXCom("t", "k", [0, 1], dag_id="d", run_id="r"),
        XComReply(values=[b"1", None]),
        RecordAssetEvents([("a", b"{}")], [("al", "a", "s3://a", b"{}")]),
        GetAssetEvents("a", limit=2, ascending=False, after="x", before="y"),
        AssetEventsReply(events=[event]),
    ]
    assert {type(b) for b in bodies} == set(get_args(Body))
    for body in bodies:
        frame = Frame(3, body)
        assert msgspec.msgpack.decode(msgspec.msgpack.encode(frame), type=Frame) == frame


def test_a_scope_costs_a_few_bytes() -> None:
    own = len(msgspec.msgpack.encode(GetState(OwnTask(), "k")))
    asset = len(msgspec.msgpack.encode(GetState(AssetNamed("orders"), "k")))
    assert own <= 40
    assert asset - own == len("asset") - len("task") + len("orders") + 1


def test_reply_type_is_named_by_the_request() -> None:
    assert GetState.reply_type is StateReply
    assert SetState.reply_type is SetReply
    assert DeleteState.reply_type is StateReply
    assert ClearState.reply_type is RemovedRefs
    assert PurgeDone.reply_type is PurgedReply
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
    old = msgspec.msgpack.encode(
        [7, {"type": "SetState", "scope": ["task"], "key": "k", "data": b"1"}]
    )
    frame = msgspec.msgpack.decode(old, type=Frame)
    assert frame.body == SetState(OwnTask(), "k", b"1")
    assert frame.body.retention is None
    assert b"retention" not in msgspec.msgpack.encode(SetState(OwnTask(), "k", b"1"))


def test_a_plain_value_carries_no_encryption_field() -> None:
    assert b"encryption" not in msgspec.msgpack.encode(SetState(OwnTask(), "k", b"1"))
    assert b"encryption" not in msgspec.msgpack.encode(StateReply(data=b"1"))
