"""What both clients share and that needs no HTTP library: error bodies, key paths."""

from __future__ import annotations

from urllib.parse import quote

import msgspec

from taskstate.errors import TaskStateError, error_from_body

__all__ = ["error_for", "key_path"]


def error_for(status: int, content: bytes, what: str) -> TaskStateError:
    """The taskstate error an unsuccessful answer's ``{code, message, detail}`` body describes."""
    try:
        body = msgspec.json.decode(content)
    except msgspec.DecodeError:
        body = None
    text = content[:200].decode(errors="replace")
    return error_from_body(body, fallback_message=f"{what} answered {status}: {text}")


def key_path(key: str) -> str:
    """``key`` as one URL path segment: every reserved character, and dot segments, escaped."""
    quoted = quote(key, safe="")
    if quoted in (".", ".."):
        quoted = quoted.replace(".", "%2E")
    return quoted
