"""A supervisor stand-in for runtime tests: a thread serving frames from a dict, over a real
socket pair, so the task-process side runs exactly as in production."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from taskstate.contracts.frames import (
    AssetEventInfo,
    AssetEventsReply,
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
    StateReply,
    TaskStarting,
    XComReply,
)
from taskstate.contracts.scopes import OwnTask
from taskstate.errors import TaskStateError, UndeclaredAssetError
from taskstate.runtime.comms import SupervisorComms


class FrameServer:
    def __init__(self, sock: socket.socket, assets: set[str]) -> None:
        self.frames = FrameSocket(sock)
        self.assets = assets
        self.store: dict[tuple[str, str], tuple[bytes, str | None]] = {}
        self.key_ids: dict[tuple[str, str], str] = {}  # the encrypted keys' key ids
        self.outputs: dict[tuple[str, str, str], bytes] = {}  # (dag_id, run_id, task_id)
        self.xcoms: dict[tuple[str, int, str], bytes] = {}  # (task_id, map_index, key)
        self.events: dict[str, list[AssetEventInfo]] = {}  # asset -> its events, oldest first
        self.requests: list[object] = []
        self.claims: dict[str, list[str]] = {}  # claim -> the references it holds
        self.purged_through = 0
        self.thread = threading.Thread(target=self.serve, daemon=True)

    def scope(self, request: GetState | SetState | DeleteState | ClearState) -> str:
        if isinstance(request.scope, OwnTask):
            return "ti"
        asset = request.scope.name
        if asset not in self.assets:
            raise UndeclaredAssetError(f"undeclared {asset}")
        return f"asset:{asset}"

    def handle(self, req: object) -> object:
        self.requests.append(req)
        if isinstance(req, SetTaskOutput):
            self.outputs[("d", "r", "own")] = req.data
            return None
        if isinstance(req, GetTaskOutput):
            return OutputReply(data=self.outputs.get((req.dag_id, req.run_id, req.task_id)))
        if isinstance(req, PushXCom):
            self.xcoms[("own", 2, req.key)] = req.data
            return None
        if isinstance(req, PullXCom):
            return XComReply(values=self.pull(req))
        if isinstance(req, RecordAssetEvents | TaskStarting):
            return None
        if isinstance(req, PurgeDone):
            if self.claims.pop(req.claim, None) is not None:
                self.purged_through += 1
            return PurgedReply(self.purged_through)
        if isinstance(req, GetAssetEvents):
            events = self.events.get(req.asset_name, [])
            events = events if req.ascending else events[::-1]
            return AssetEventsReply(events=events[: req.limit])
        assert isinstance(req, GetState | SetState | DeleteState | ClearState), req
        scope = self.scope(req)
        if isinstance(req, GetState):
            data, ref = self.store.get((scope, req.key), (None, None))
            return StateReply(data, ref, encryption=self.key_ids.get((scope, req.key)))
        if isinstance(req, SetState):
            old, old_ref = self.store.get((scope, req.key), (None, None))
            self.store[(scope, req.key)] = (req.data, req.ref_backend)
            self.key_ids.pop((scope, req.key), None)
            if req.encryption is not None:
                self.key_ids[(scope, req.key)] = req.encryption
            if req.ref_backend and old is not None and old_ref and old != req.data:
                # As the server does: the object a set of a reference replaced is the task's
                # to purge, under a claim.
                claim = self.claim([old.decode()])
                return SetReply(refs=[(old.decode(), old_ref)], claim=claim)
            return SetReply()
        if isinstance(req, DeleteState):
            data, ref = self.store.pop((scope, req.key), (None, None))
            claim = self.claim([data.decode()]) if data is not None and ref else None
            return StateReply(data=data, ref_backend=ref, claim=claim)
        if isinstance(req, ClearState):
            removed = [k for k in self.store if k[0] == scope]
            refs = []
            for k in removed:
                data, ref = self.store.pop(k)
                if ref:
                    refs.append((data.decode(), ref))
            return RemovedRefs(refs=refs, claim=self.claim([r for r, _ in refs]) if refs else None)
        raise AssertionError(req)

    def claim(self, refs: list[str]) -> str:
        claim = f"00000000-0000-4000-8000-{len(self.claims) + 1:012d}"
        self.claims[claim] = refs
        return claim

    def pull(self, req: PullXCom) -> list[bytes | None]:
        """As the supervisor answers: null and missing alike are None."""
        found = {i: v for (t, i, k), v in self.xcoms.items() if (t, k) == (req.task_id, req.key)}
        if req.map_indexes is None:
            texts: list[bytes | None] = [found[i] for i in sorted(found)]
        else:
            texts = [found.get(i) for i in req.map_indexes]
        return [None if t == b"null" else t for t in texts]

    def serve(self) -> None:
        while (frame := self.frames.receive()) is not None:
            try:
                answer = Frame(frame.id, self.handle(frame.body))  # type: ignore[arg-type]
            except TaskStateError as exc:
                answer = Frame(frame.id, error=exc.to_body())
            self.frames.send(answer)


@pytest.fixture
def served() -> Iterator[tuple[SupervisorComms, FrameServer]]:
    ours, theirs = socket.socketpair()
    server = FrameServer(theirs, {"orders", "other"})
    server.thread.start()
    comms = SupervisorComms(FrameSocket(ours))
    yield comms, server
    comms.close()
    server.thread.join(timeout=5)
    theirs.close()
