"""The task process's end of the socket to its supervisor."""

from __future__ import annotations

import threading
from typing import Any, TypeVar, cast

from taskstate.contracts.frames import Frame, FrameSocket, Request, StartTask
from taskstate.errors import CommsError, error_from_body

__all__ = ["SupervisorComms"]

R = TypeVar("R")


class SupervisorComms:
    """Sends requests to the supervisor and returns their replies, one at a time.

    A lock makes it safe to share between threads (async accessors run their calls in worker
    threads so as never to block the event loop).
    """

    def __init__(self, frames: FrameSocket) -> None:
        self._frames = frames
        self._lock = threading.Lock()
        self._next_id = 1

    def receive_start(self) -> StartTask:
        frame = self._frames.receive()
        if frame is None or not isinstance(frame.body, StartTask):
            raise CommsError("the supervisor did not send the task's start-up details")
        return frame.body

    def send(self, request: Request[R]) -> R:
        with self._lock:
            request_id = self._next_id
            self._next_id += 1
            self._frames.send(Frame(request_id, cast(Any, request)))
            reply = self._frames.receive()
        if reply is None:
            raise CommsError("the supervisor closed the socket")
        if reply.id != request_id:
            raise CommsError(f"reply to request {reply.id} received while waiting for {request_id}")
        if reply.error is not None:
            raise error_from_body(reply.error)
        expected = request.reply_type
        if expected is None:
            return None  # type: ignore[return-value]
        if not isinstance(reply.body, expected):
            raise CommsError(
                f"expected a {expected.__name__} reply, got {type(reply.body).__name__}"
            )
        return reply.body  # type: ignore[no-any-return]

    def close(self) -> None:
        self._frames.close()
