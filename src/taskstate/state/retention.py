"""How long a key stays visible: ``set(key, value, retention=...)``.

A retention is one of:

* ``None``: the server's default, ``[state_store] default_retention_days`` (0: never expire);
* a positive :class:`~datetime.timedelta`: the key expires that long after it is written;
* :data:`NEVER_EXPIRE`: the key never expires, whatever the server's default.

Anything else (a zero or negative duration, a bare number, whose unit would be a guess) raises
:class:`~taskstate.errors.InvalidRetentionError` before anything is sent. On the wire (frames,
HTTP bodies) a retention is its number of seconds, the text ``"never"``, or absent; the API
server checks it again and turns it into an expiry time on its own clock, so the clocks of the
workers do not matter.
"""

from __future__ import annotations

import enum
import math
from datetime import datetime, timedelta
from typing import Final, Literal, TypeAlias

from taskstate.errors import InvalidRetentionError

__all__ = [
    "MAX_RETENTION",
    "NEVER",
    "NEVER_EXPIRE",
    "Retention",
    "WireRetention",
    "expiry_of",
    "retention_from_wire",
    "retention_to_wire",
]


class _Forever(enum.Enum):
    """The type of :data:`NEVER_EXPIRE`; an enum member, so type checkers know its one value."""

    NEVER_EXPIRE = "never"

    def __repr__(self) -> str:
        return "NEVER_EXPIRE"


NEVER_EXPIRE: Final = _Forever.NEVER_EXPIRE
"""Pass as ``retention`` to keep a key until it is deleted, whatever the server's default."""

NEVER: Final = "never"
""":data:`NEVER_EXPIRE` on the wire."""

MAX_RETENTION: Final = timedelta(days=36_500)
"""The longest retention accepted (100 years); a longer one is refused: use :data:`NEVER_EXPIRE`."""

Retention: TypeAlias = "timedelta | Literal[_Forever.NEVER_EXPIRE] | None"
"""What ``set(..., retention=...)`` accepts."""

WireRetention: TypeAlias = "float | Literal['never'] | None"
"""A retention as frames and HTTP bodies carry it: seconds, ``"never"``, or None (default)."""

_HINT = "pass a positive datetime.timedelta, NEVER_EXPIRE (from taskstate.sdk), or None"


def retention_to_wire(retention: object) -> WireRetention:
    """Check ``retention`` as a task gives it, and return its wire form."""
    if retention is None:
        return None
    if retention is NEVER_EXPIRE:
        return NEVER
    if not isinstance(retention, timedelta):
        raise InvalidRetentionError(
            f"retention must be a duration, not {type(retention).__name__} {retention!r}: "
            f"{_HINT} (the server's default)",
            detail={"retention": repr(retention)},
        )
    return _seconds(retention.total_seconds(), repr(retention))


def retention_from_wire(value: object) -> WireRetention:
    """Check a retention received on the wire (seconds, ``"never"`` or None): trust no caller."""
    if value is None:
        return None
    if value == NEVER:
        return NEVER
    # bool is an int, and True seconds is certainly a mistake.
    if isinstance(value, bool) or not isinstance(value, int | float):
        shown = _shown(value)
        raise InvalidRetentionError(
            f'retention must be a number of seconds or "never", not {shown}',
            detail={"retention": shown},
        )
    if isinstance(value, int) and abs(value) > _MAX_RETENTION_SECONDS:
        # Checked before float(): an integer of hundreds of digits has no float.
        return _seconds(2.0 * _MAX_RETENTION_SECONDS if value > 0 else -1.0, _shown(value))
    return _seconds(float(value), repr(value))


_MAX_RETENTION_SECONDS = int(MAX_RETENTION.total_seconds())
_SHOWN_CHARS = 40


def _shown(value: object) -> str:
    """``value`` as a message shows it: at most 40 characters, even for a 5,000-digit integer
    (whose ``repr`` Python refuses to build)."""
    if isinstance(value, int) and value.bit_length() > 128:
        return f"an integer of {len(format(value, 'x')) * 4} bits"
    text = repr(value)
    return text if len(text) <= _SHOWN_CHARS else text[: _SHOWN_CHARS - 3] + "..."


def _seconds(seconds: float, shown: str) -> float:
    if not math.isfinite(seconds) or seconds <= 0:
        raise InvalidRetentionError(
            f"retention must be longer than zero, not {shown}; {_HINT}",
            detail={"retention": shown},
        )
    if seconds > MAX_RETENTION.total_seconds():
        raise InvalidRetentionError(
            f"retention {shown} is longer than 100 years; use NEVER_EXPIRE",
            detail={"retention": shown},
        )
    return seconds


def expiry_of(
    retention: WireRetention, *, now: datetime, default: timedelta | None
) -> datetime | None:
    """When a key written at ``now`` with ``retention`` expires; None: never.

    ``default`` is the server's retention for writes that give none (None: never expire).
    """
    if retention == NEVER:
        return None
    if retention is None:
        return None if default is None else now + default
    return now + timedelta(seconds=retention)
