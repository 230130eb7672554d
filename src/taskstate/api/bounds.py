"""What the database can hold, checked before a request reaches it.

PostgreSQL's ``integer`` columns hold 32 bits, SQLite's and ``bigint`` 64; no text column of
PostgreSQL holds a NUL character, and no UTF-8 text a lone surrogate. A request that carries one
of these is refused here with a typed 400, rather than failing in the driver:

* integers in paths and queries are typed with :data:`MapIndex` or :data:`PathId`, which FastAPI
  checks; integers in bodies with the same bounds on their models;
* JSON bodies are scanned for ``\\u0000`` and lone-surrogate escapes (:func:`check_json_escapes`,
  run by the guard on every body); a raw NUL or an invalid UTF-8 byte is already invalid JSON;
* a query string holding ``%00`` is refused (:func:`check_query`).
"""

from __future__ import annotations

import re
from typing import Annotated

from fastapi import Path, Query

from taskstate.errors import InvalidValueError

__all__ = [
    "INT32_MAX",
    "INT32_MIN",
    "MapIndex",
    "PathId",
    "check_json_escapes",
    "check_query",
]

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1

_ESCAPE = re.compile(rb"\\(?:u([0-9A-Fa-f]{4})|.)", re.DOTALL)
_SUSPECT = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


def check_json_escapes(body: bytes) -> None:
    """Refuse JSON text whose strings hold a NUL or a lone surrogate, written as ``\\uXXXX``.

    Backslashes appear in JSON only inside strings, so the escapes are read left to right
    (``\\\\`` consumed as one); a high surrogate must be followed at once by a low one.
    """
    if b"\\u" not in body or not _SUSPECT.search(body):
        return
    pending_high = -1  # end offset of an unpaired high surrogate escape
    for match in _ESCAPE.finditer(body):
        hex_digits = match.group(1)
        code = -1 if hex_digits is None else int(hex_digits, 16)
        if pending_high >= 0:
            if match.start() != pending_high or not 0xDC00 <= code <= 0xDFFF:
                raise _lone_surrogate()
            pending_high = -1
            continue
        if code == 0:
            raise InvalidValueError(
                "a string of the request holds a NUL character (\\u0000), which cannot be stored",
                detail={"character": "U+0000"},
            )
        if 0xD800 <= code <= 0xDBFF:
            pending_high = match.end()
        elif 0xDC00 <= code <= 0xDFFF:
            raise _lone_surrogate()
    if pending_high >= 0:
        raise _lone_surrogate()


def _lone_surrogate() -> InvalidValueError:
    return InvalidValueError(
        "a string of the request holds a lone surrogate (\\ud800-\\udfff without its pair), "
        "which is not Unicode text",
        detail={"character": "surrogate"},
    )


def check_query(query_string: bytes) -> None:
    """Refuse a query string that holds a NUL character."""
    if b"%00" in query_string or b"\x00" in query_string:
        raise InvalidValueError(
            "a query parameter holds a NUL character (%00), which cannot be stored or matched",
            detail={"character": "U+0000"},
        )


MapIndex = Annotated[int, Query(ge=-1, le=INT32_MAX)]
"""A ``map_index`` query parameter: -1 (not mapped) or an index."""

PathId = Annotated[int, Path(ge=1, le=INT32_MAX)]
"""An integer id in a path (a purge-queue entry): the positive range of its 32-bit column."""
