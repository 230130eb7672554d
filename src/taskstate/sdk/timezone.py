"""``timezone``: Airflow's date helpers (``from airflow.sdk import timezone``), UTC by default.

taskstate's default timezone is UTC, as Airflow's is unless configured: a naive datetime is
taken to be in UTC.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pendulum

__all__ = [
    "coerce_datetime",
    "convert_to_utc",
    "datetime",
    "make_aware",
    "make_naive",
    "parse",
    "utc",
    "utcnow",
]

utc = pendulum.UTC


def utcnow() -> dt.datetime:
    """The current time, in UTC."""
    return dt.datetime.now(dt.UTC)


def make_aware(value: dt.datetime, timezone: dt.tzinfo | None = None) -> dt.datetime:
    """``value`` (naive) in ``timezone`` (UTC by default)."""
    if value.utcoffset() is not None:
        raise ValueError(f"make_aware expects a naive datetime, got {value}")
    return value.replace(tzinfo=timezone or utc)


def make_naive(value: dt.datetime, timezone: dt.tzinfo | None = None) -> dt.datetime:
    """``value`` (aware) as a naive datetime in ``timezone`` (UTC by default)."""
    if value.utcoffset() is None:
        raise ValueError("make_naive() cannot be applied to a naive datetime")
    return value.astimezone(timezone or utc).replace(tzinfo=None)


def convert_to_utc(value: dt.datetime | None) -> pendulum.DateTime | None:
    """``value`` in UTC (a naive one is taken to be UTC already)."""
    if value is None:
        return None
    if value.utcoffset() is None:
        value = value.replace(tzinfo=utc)
    return pendulum.instance(value).in_timezone(utc)


def coerce_datetime(value: dt.datetime | None, tz: dt.tzinfo | None = None) -> Any:
    """``value`` as a pendulum DateTime (a naive one in ``tz``, UTC by default)."""
    if value is None:
        return None
    if value.utcoffset() is None:
        value = value.replace(tzinfo=tz or utc)
    return pendulum.instance(value)


def datetime(*args: Any, **kwargs: Any) -> dt.datetime:
    """``datetime.datetime(...)`` in UTC unless ``tzinfo`` is given."""
    kwargs.setdefault("tzinfo", utc)
    return dt.datetime(*args, **kwargs)


def parse(string: str, timezone: dt.tzinfo | None = None, *, strict: bool = False) -> Any:
    """A date/time string parsed by pendulum, in ``timezone`` (UTC by default)."""
    return pendulum.parse(string, tz=timezone or utc, strict=strict)
