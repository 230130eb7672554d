"""httpx-specific parts of the public client: one place where httpx's errors become taskstate's."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import httpx

from taskstate.client._common import error_for
from taskstate.errors import APIConnectionError

__all__ = ["check", "translate_errors"]


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
    request = response.request
    raise error_for(response.status_code, response.content, f"{request.method} {request.url.path}")
