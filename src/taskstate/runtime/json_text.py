"""The JSON text of a value, built a piece at a time, for the hooks that take text.

taskstate's worker hooks (``serialize_*_value``) receive a value's JSON text. For a value of
hundreds of MiB, encoding it whole would hold its bytes beside the text being built from them;
:func:`json_text` keeps that down to a piece at a time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import Any, cast

from taskstate.state.codec import encode_value
from taskstate.state.types import JSONValue

__all__ = ["json_text"]

_PIECE = 256 * 1024
"""Characters of a long string, or about the bytes of JSON, encoded at a time for a hook.

Small enough to stay in the CPU's caches: on 200 MiB values, 256 KiB pieces took 0.18 s for a
string and 0.43 s for a list of strings, 8 MiB pieces 0.23 s and 0.75 s."""

_FIRST_ITEMS = 1024
"""Items of a list or object encoded in its first piece; a smaller one is encoded whole."""

_PUNCTUATION: dict[type, tuple[str, str, str]] = {
    str: ('"', "", '"'),
    list: ("[", ",", "]"),
    tuple: ("[", ",", "]"),
    dict: ("{", ",", "}"),
}
"""Opening, separator and closing of the JSON of each type :func:`json_text` cuts up."""


def json_text(value: JSONValue) -> str:
    """The JSON text of ``value``, as :func:`encode_value` writes it, for a worker hook.

    Encoded whole, a large value's bytes would sit beside its text while one is decoded into
    the other: a third copy of the value. So a long string, list or object at the top is
    encoded a piece at a time, and the pieces are appended to the text in batches. CPython
    grows a str that has a single reference in place, so the text is not copied as it grows;
    where it cannot (another interpreter, or the allocator must move the text), each batch,
    at least an eighth of the text so far, bounds the copying to about nine times the text,
    as a growing list's would be. Should a piece fail, the value is encoded whole instead, so
    the error raised, and the path in its message, are the ones they always were.
    """
    pieces = _pieces(value)
    if pieces is not None:
        opening, separator, closing = _PUNCTUATION[type(value)]
        text = opening
        batch: list[str] = []
        pending = 0
        try:
            for i, piece in enumerate(pieces):
                if i and separator:
                    batch.append(separator)
                batch.append(str(memoryview(piece)[1:-1], "utf-8"))  # without its punctuation
                pending += len(piece)
                if pending > len(text) // 8:
                    text += "".join(batch)
                    batch.clear()
                    pending = 0
        except MemoryError:
            raise
        except Exception:
            del text, batch  # what was built, before the value is encoded whole
        else:
            batch.append(closing)
            text += "".join(batch)
            return text
    return encode_value(value, max_bytes=0).decode()


def _pieces(value: JSONValue) -> Iterator[bytes] | None:
    """The JSON of a long string, list or object in pieces of ~_PIECE bytes; else None.

    Exact types only: a subclass is not JSON, and its slices (plain str or list) would pass.
    """
    kind = type(value)
    if kind is str:
        text = cast(str, value)
        if len(text) > _PIECE:
            return (
                encode_value(text[start : start + _PIECE], max_bytes=0)
                for start in range(0, len(text), _PIECE)
            )
    elif kind in (list, tuple):
        items = cast("list[JSONValue]", value)
        if len(items) > _FIRST_ITEMS:
            return _slices(iter(items), list)
    elif kind is dict:
        mapping = cast("dict[str, JSONValue]", value)
        if len(mapping) > _FIRST_ITEMS:
            return _slices(iter(mapping.items()), dict)
    return None


def _slices(items: Iterator[Any], build: Callable[[Iterable[Any]], JSONValue]) -> Iterator[bytes]:
    """Each slice of a list (or of an object's items), built back up by ``build`` and encoded;
    slices are sized to ~_PIECE bytes of JSON."""
    count = _FIRST_ITEMS
    while chunk := build(islice(items, count)):
        piece = encode_value(chunk, max_bytes=0)
        yield piece
        count = max(1, count * _PIECE // len(piece))
