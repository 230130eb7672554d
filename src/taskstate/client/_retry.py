"""Retrying calls that failed transiently, without ever applying a write twice.

A call is retried when it failed in a way that says "try again later": the server could not be
reached or dropped the connection (refused, reset, closed, timed out), or it answered 503 (its
database or backend was away). Retries back off exponentially, with jitter, from
:attr:`RetryPolicy.initial_wait` up to :attr:`RetryPolicy.max_wait` between tries, and stop once
:attr:`RetryPolicy.budget_seconds` (``[api] client_retry_seconds``) have passed; the last
failure is then raised as it was. tenacity does the bookkeeping.

Repeating a request is only harmless when the request is idempotent. GET, PUT, DELETE and HEAD
are (a state ``set`` writes the same value again). A POST or PATCH is not, so each one carries an
``Idempotency-Key`` header, the same on every try of one call: the server stores its reply per
key and answers a repeat with that reply instead of doing the work again
(:mod:`taskstate.api.replies`). Only calls that change nothing (a heartbeat) go without one.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

import httpx
import msgspec
import tenacity

from taskstate.errors import APIConnectionError, BackendError

__all__ = [
    "IDEMPOTENCY_HEADER",
    "RetryPolicy",
    "RetryingConnection",
    "RetryingTransport",
    "needs_key",
    "transient_reply",
]

T = TypeVar("T")

# httpx's errors of a connection that failed or broke; not those of a request that can never
# work (an unsupported scheme, a bad proxy).
_HTTPX_TRANSIENT = (httpx.NetworkError, httpx.TimeoutException, httpx.RemoteProtocolError)

IDEMPOTENCY_HEADER = "idempotency-key"

_IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"})
# POSTs that change nothing: repeating them is harmless, and storing their replies would only
# fill the reply table (a heartbeat every few seconds per task).
_HARMLESS_POST_SUFFIXES = ("/heartbeat", "/references/find")


def needs_key(method: str, path: str) -> bool:
    """Whether a request must carry an idempotency key to be retried safely."""
    if method.upper() in _IDEMPOTENT_METHODS:
        return False
    return not path.split("?", 1)[0].endswith(_HARMLESS_POST_SUFFIXES)


def transient_reply(status: int, body: bytes) -> bool:
    """Whether an answer says "try again later": a 503, but a backend's error only if the
    server marked it ``detail.transient`` (a lost database connection, not a value the
    database cannot hold nor a backend that cannot do what was asked)."""
    if status != 503:
        return False
    try:
        decoded = msgspec.json.decode(body)
    except msgspec.DecodeError:
        return True  # not the server's own answer: a proxy, a server starting
    if not isinstance(decoded, dict) or decoded.get("code") != BackendError.code:
        return True
    detail = decoded.get("detail")
    return isinstance(detail, dict) and detail.get("transient") is True


@dataclass(frozen=True)
class RetryPolicy:
    """How long and how often a client retries; ``budget_seconds`` 0 turns retries off."""

    budget_seconds: float = 60.0
    initial_wait: float = 0.05
    max_wait: float = 2.0
    sleep: Callable[[float], None] = tenacity.nap.sleep

    def call(
        self,
        attempt: Callable[[], T],
        retry_result: Callable[[T], bool],
        errors: tuple[type[BaseException], ...] = (APIConnectionError,),
    ) -> T:
        """``attempt()`` until it neither raises one of ``errors`` nor returns a result
        ``retry_result`` accepts, or the budget is spent; the last outcome then."""
        if self.budget_seconds <= 0:
            return attempt()
        # The hot path (every state get and set) pays for nothing more than one call; the
        # retrying machinery is built only once a call has failed.
        try:
            first = attempt()
        except errors:
            pass
        else:
            if not retry_result(first):
                return first
        retrying = tenacity.Retrying(
            retry=(
                tenacity.retry_if_exception_type(errors) | tenacity.retry_if_result(retry_result)
            ),
            stop=tenacity.stop_after_delay(self.budget_seconds),
            # Doubling from initial_wait up to max_wait, with jitter, so that many clients
            # cut off together do not come back together.
            wait=tenacity.wait_exponential(multiplier=self.initial_wait, max=self.max_wait)
            + tenacity.wait_random(0, self.initial_wait),
            sleep=self.sleep,
            reraise=True,
            retry_error_callback=_last_outcome,
        )
        return retrying(attempt)


def _last_outcome(state: tenacity.RetryCallState) -> object:
    assert state.outcome is not None
    return state.outcome.result()  # the last answer, or its exception raised again


class _Connection(Protocol):
    """What :class:`RetryingConnection` wraps (``KeepAliveConnection``)."""

    base_url: str
    last_etag: str | None

    def request(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[int, bytes]: ...

    def close(self) -> None: ...


class RetryingConnection:
    """A ``KeepAliveConnection`` whose requests are retried under ``policy``."""

    def __init__(self, conn: _Connection, policy: RetryPolicy) -> None:
        self._conn = conn
        self.policy = policy
        self.base_url = conn.base_url

    def request(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[int, bytes]:
        if needs_key(method, path):
            headers = {**headers, IDEMPOTENCY_HEADER: uuid.uuid4().hex}
        return self.policy.call(
            lambda: self._conn.request(method, path, body, headers),
            lambda answer: transient_reply(*answer),
        )

    @property
    def last_etag(self) -> str | None:
        """The ``ETag`` of the last answer (a key's version), None if it had none."""
        return self._conn.last_etag

    def close(self) -> None:
        self._conn.close()


class RetryingTransport(httpx.BaseTransport):
    """An httpx transport whose requests are retried under ``policy`` (the public client)."""

    def __init__(self, inner: httpx.BaseTransport, policy: RetryPolicy) -> None:
        self._inner = inner
        self.policy = policy

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if IDEMPOTENCY_HEADER not in request.headers and needs_key(
            request.method, request.url.path
        ):
            request.headers[IDEMPOTENCY_HEADER] = uuid.uuid4().hex
        request.read()  # the body is sent again on a retry

        def attempt() -> httpx.Response:
            response = self._inner.handle_request(request)
            if response.status_code == 503:
                response.read()
            return response

        def transient(response: httpx.Response) -> bool:
            if response.status_code == 503 and transient_reply(503, response.content):
                response.close()
                return True
            return False

        return self.policy.call(attempt, transient, _HTTPX_TRANSIENT)

    def close(self) -> None:
        self._inner.close()
