"""Idempotency keys: a repeated POST or PATCH gets the reply of the first, not a second effect.

A client that lost the answer to a request (the server restarted, the connection broke) cannot
tell whether the request was applied. It sends it again with the same ``Idempotency-Key``
header (:mod:`taskstate.client._retry`), and this middleware answers with the reply it stored
for that key, without calling the route again; the replay carries ``Idempotent-Replay: true``.

The reply is stored (table ``request_reply``) before it is sent, so any client that saw it can
only repeat a request whose reply is kept. A reply of 5xx is not stored: the request may be
repeated and done then. One window remains: a server killed after the route's transaction
committed and before the reply was stored (microseconds). A repeat is then done again: the
lifecycle routes refuse a second transition (409: a try already started or ended, a run that
exists), so no try or run moves twice; a try's asset events could be recorded twice.

Replies are kept for :data:`KEEP_REPLIES`, far beyond any client's retry budget.
"""

from __future__ import annotations

import hashlib
import logging
import time
from datetime import timedelta
from typing import NamedTuple

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from taskstate.api.app import AppState, in_transaction
from taskstate.db.models import RequestReply, utcnow
from taskstate.errors import TaskStateError, UsageError

__all__ = ["KEEP_REPLIES", "MAX_KEY_LENGTH", "idempotency_key", "serve_keyed"]

log = logging.getLogger("taskstate.api")

KEEP_REPLIES = timedelta(days=1)
MAX_KEY_LENGTH = 100
_KEYED_METHODS = frozenset({"POST", "PATCH"})
_PRUNE_EVERY_SECONDS = 600.0
_last_prune = 0.0


def idempotency_key(scope: Scope) -> str | None:
    """The request's idempotency key, if it is a POST or PATCH that carries one."""
    if scope["type"] != "http" or scope["method"] not in _KEYED_METHODS:
        return None
    for name, value in scope["headers"]:
        if name == b"idempotency-key":
            return str(value.decode("latin-1"))
    return None


class _Reply(NamedTuple):
    method: str
    path: str
    caller: str
    status: int
    content_type: str | None
    body: bytes


def _find(session: Session, key: str) -> _Reply | None:
    row = session.get(RequestReply, key)
    if row is None:
        return None
    return _Reply(row.method, row.path, row.caller, row.status, row.content_type, row.body)


def _caller(scope: Scope) -> str:
    """Who sent the request, as a digest of its credentials: a reply is replayed only to the
    caller it was made for."""
    for name, value in scope["headers"]:
        if name == b"authorization":
            return hashlib.sha256(value).hexdigest()
    return hashlib.sha256(b"").hexdigest()


async def _error(scope: Scope, receive: Receive, send: Send, error: TaskStateError) -> None:
    await JSONResponse(error.to_body(), status_code=error.status)(scope, receive, send)


async def serve_keyed(
    app: ASGIApp, state: AppState, key: str, scope: Scope, receive: Receive, send: Send
) -> None:
    """Answer a keyed request: with its stored reply if there is one, else by ``app``."""
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        await _error(
            scope,
            receive,
            send,
            UsageError(f"an Idempotency-Key has 1 to {MAX_KEY_LENGTH} characters"),
        )
        return
    method, path, caller = scope["method"], scope["path"], _caller(scope)
    try:
        stored = await in_transaction(state, lambda session: _find(session, key))
    except TaskStateError as exc:
        await _error(scope, receive, send, exc)
        return
    if stored is not None:
        if (stored.method, stored.path, stored.caller) != (method, path, caller):
            error = UsageError(
                f"Idempotency-Key {key!r} was used for another request "
                f"({stored.method} {stored.path}); use a new key for each request",
                detail={"idempotency_key": key},
            )
            await _error(scope, receive, send, error)
        else:
            await _replay(send, stored)
        return
    start: Message | None = None
    chunks: list[bytes] = []

    async def capture(message: Message) -> None:
        nonlocal start
        if message["type"] == "http.response.start":
            start = message
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, capture)
    if start is None:
        return
    body = b"".join(chunks)
    if start["status"] < 500:
        await _store(state, key, (method, path, caller), start, body)
    await send(start)
    await send({"type": "http.response.body", "body": body})


async def _replay(send: Send, stored: _Reply) -> None:
    headers = [(b"idempotent-replay", b"true"), (b"content-length", b"%d" % len(stored.body))]
    if stored.content_type:
        headers.append((b"content-type", stored.content_type.encode("latin-1")))
    await send({"type": "http.response.start", "status": stored.status, "headers": headers})
    await send({"type": "http.response.body", "body": stored.body})


async def _store(
    state: AppState, key: str, request: tuple[str, str, str], start: Message, body: bytes
) -> None:
    method, path, caller = request
    content_type = None
    for name, value in start.get("headers", ()):
        if name.lower() == b"content-type":
            content_type = value.decode("latin-1")[:100]

    def work(session: Session) -> None:
        global _last_prune
        session.add(
            RequestReply(
                key=key,
                method=method,
                path=path,
                caller=caller,
                status=start["status"],
                content_type=content_type,
                body=body,
            )
        )
        now = time.monotonic()
        if now - _last_prune > _PRUNE_EVERY_SECONDS:
            _last_prune = now
            session.execute(
                delete(RequestReply).where(RequestReply.created_at < utcnow() - KEEP_REPLIES)
            )

    try:
        await in_transaction(state, work)
    except TaskStateError as exc:
        # The client gets its answer all the same; only a repeat of this request is done again.
        if not isinstance(exc.__cause__, IntegrityError):
            log.warning("cannot store the reply to %s %s (key %s): %s", method, path, key, exc)
