"""Versions over HTTP: a key's version is its ``ETag``; a write names the version it expects.

``If-Match: "<version>"`` on a PUT or DELETE applies it only if the key is at that version;
``If-None-Match: *`` on a PUT only if the key does not exist. The execution API answers a
mismatch with the backend's VersionConflictError (409); the public API, as HTTP has it, with
PreconditionFailedError (412).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import TypeVar

from starlette.requests import Request
from starlette.responses import Response

from taskstate.errors import InvalidValueError, PreconditionFailedError, VersionConflictError
from taskstate.state.types import StoredValue

__all__ = ["etag", "guarded", "if_version_of", "tagged"]

T = TypeVar("T")


def etag(version: int) -> str:
    """The ETag of a key at ``version``."""
    return f'"{version}"'


def if_version_of(request: Request) -> int | None:
    """The version a write names: ``If-Match: "<n>"``, or 0 for ``If-None-Match: *``."""
    headers = request.headers
    match = headers.get("if-match")
    if match is not None:
        text = match.strip().removeprefix("W/").strip('"')
        if not text.isdigit() or len(text) > 19:
            raise InvalidValueError(
                f'If-Match names one version, as "<number>", not {match[:40]!r}',
                detail={"if_match": match[:40]},
            )
        return int(text)
    none_match = headers.get("if-none-match")
    if none_match is not None:
        if none_match.strip() != "*":
            raise InvalidValueError(
                "If-None-Match on a write takes only *: the key must not exist",
                detail={"if_none_match": none_match[:40]},
            )
        return 0
    return None


def tagged(response: Response, stored: StoredValue) -> None:
    """The key's version as the answer's ETag, for a later If-Match."""
    if stored.version:
        response.headers["etag"] = etag(stored.version)


async def guarded(work: Awaitable[T]) -> T:
    """``work``, a version conflict answered as HTTP's failed precondition (412)."""
    try:
        return await work
    except VersionConflictError as exc:
        raise PreconditionFailedError(exc.message, detail=exc.detail) from exc
