"""``Guard``: what every request passes before any route reads a byte of its body.

1. **Credentials, from the headers alone.** A request to the execution API (``/execution/``)
   needs a valid task-instance token, one to the public API (``/api/v1/``) an API key. Without
   them the answer is 401 or 403 at once, and the connection is closed: the body is never read,
   so an unauthenticated client cannot make the server hold anything. The routes still check
   what the credential grants (which task instance, which assets).
2. **Size.** A body over ``[api] max_body_bytes`` is refused with 413
   (:class:`~taskstate.errors.BodyTooLargeError`): at once when its ``Content-Length`` says so,
   and for a chunked body as soon as the bytes received pass the limit. The guard holds the
   chunks it has read (at most the limit) and hands them to the route as they came.
3. **Text a database can hold.** A query string with a NUL, a body whose JSON strings hold a NUL
   or a lone surrogate, answer 400 (see ``api.bounds``) before any route decodes them.

Other paths (``/health``, the OpenAPI documents) pass unguarded: they take no body.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from taskstate.api.auth import ApiKeys, TokenSigner, bearer, token_claims
from taskstate.api.bounds import check_json_escapes, check_query
from taskstate.errors import BodyTooLargeError, TaskStateError

__all__ = ["Credentials", "Guard"]

_EXECUTION = "/execution/"
_PUBLIC = "/api/v1/"

Credentials = Callable[[], tuple[TokenSigner, ApiKeys] | None]
"""The server's token signer and API keys, or None before the app has started."""


class Guard:
    """ASGI middleware: credentials checked, then the body's size, before the app runs."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int, credentials: Credentials) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self._credentials = credentials

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if not (path.startswith(_EXECUTION) or path.startswith(_PUBLIC)):
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        length = _content_length(headers)
        try:
            self._check_credentials(path, headers.get("authorization"))
            check_query(scope.get("query_string", b""))
            if length is not None and length > self.max_body_bytes:
                raise self._too_large(length)
        except TaskStateError as error:
            pending = "transfer-encoding" in headers or (length or 0) > 0
            await _refuse(send, error, close=pending)
            return
        messages: list[Message] = []
        received = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            received += len(message.get("body", b""))
            if received > self.max_body_bytes:
                await _refuse(send, self._too_large(None), close=True)
                return
            messages.append(message)
            if not message.get("more_body", False):
                break
        try:
            check_json_escapes(
                messages[0].get("body", b"")
                if len(messages) == 1
                else b"".join(m.get("body", b"") for m in messages)
            )
        except TaskStateError as error:
            await _refuse(send, error, close=False)
            return

        async def replay() -> Message:
            if messages:
                return messages.pop(0)
            return await receive()

        await self.app(scope, replay, send)

    def _check_credentials(self, path: str, authorization: str | None) -> None:
        credentials = self._credentials()
        if credentials is None:
            return
        signer, api_keys = credentials
        if path.startswith(_EXECUTION):
            token_claims(authorization, signer)
        else:
            api_keys.check(bearer(authorization), signer)

    def _too_large(self, length: int | None) -> BodyTooLargeError:
        size = "" if length is None else f" ({length} bytes)"
        return BodyTooLargeError(
            f"the request body{size} is over the limit of {self.max_body_bytes} bytes "
            "([api] max_body_bytes)",
            detail={"limit": self.max_body_bytes, **({} if length is None else {"size": length})},
        )


def _headers(scope: Scope) -> dict[str, str]:
    return {
        name.decode("latin-1"): value.decode("latin-1")
        for name, value in scope["headers"]
        if name in (b"authorization", b"content-length", b"transfer-encoding")
    }


def _content_length(headers: dict[str, str]) -> int | None:
    text = headers.get("content-length")
    if text is None:
        return None
    text = text.strip()
    # The server has parsed it already; a length of absurd digits is simply too large.
    return int(text) if text.isdigit() and len(text) < 20 else 1 << 63


async def _refuse(send: Send, error: TaskStateError, *, close: bool) -> None:
    """Answer ``error``; with ``close``, close the connection, leaving the body unread."""
    body = json.dumps(error.to_body()).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
