"""What both clients share: one place where httpx's errors become taskstate's."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import quote

import httpx
import msgspec

from taskstate.errors import APIConnectionError, TaskStateError, error_from_body

__all__ = ["check", "key_path", "translate_errors"]


@contextmanager
def translate_errors(base_url: str) -> Iterator[None]:
    """Turn httpx's transport errors into :class:`APIConnectionError`."""
    try:
        yield
    except httpx.TimeoutException as exc:
        raise APIConnectionError(f"the API server at {base_url} did not answer in time") from exc
    except httpx.TransportError as exc:
        raise APIConnectionError(f"cannot reach the API server at {base_url}: {exc}") from exc


def check(response: httpx.Response) -> httpx.Response:
    """``response`` if it succeeded, else the taskstate error its body describes."""
    if response.is_success:
        return response
    try:
        body = msgspec.json.decode(response.content)
    except msgspec.DecodeError:
        body = None
    error: TaskStateError = error_from_body(
        body,
        fallback_message=f"{response.request.method} {response.request.url.path} answered "
        f"{response.status_code}: {response.text[:200]}",
    )
    raise error


def key_path(key: str) -> str:
    """``key`` as one URL path segment: every reserved character, and dot segments, escaped."""
    quoted = quote(key, safe="")
    if quoted in (".", ".."):
        quoted = quoted.replace(".", "%2E")
    return quoted
