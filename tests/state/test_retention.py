"""Retention values: what a task may pass, what the wire carries, when a key expires."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from taskstate.errors import InvalidRetentionError, UsageError
from taskstate.sdk import NEVER_EXPIRE
from taskstate.state.retention import (
    MAX_RETENTION,
    NEVER,
    expiry_of,
    retention_from_wire,
    retention_to_wire,
)

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


def test_never_expire_is_one_named_sentinel() -> None:
    from taskstate.state import retention

    assert retention.NEVER_EXPIRE is NEVER_EXPIRE
    assert repr(NEVER_EXPIRE) == "NEVER_EXPIRE"


@pytest.mark.parametrize(
    ("given", "wire"),
    [
        (None, None),
        (NEVER_EXPIRE, "never"),
        (timedelta(seconds=1), 1.0),
        (timedelta(days=30), 2_592_000.0),
        (timedelta(microseconds=1), 1e-6),
        (MAX_RETENTION, MAX_RETENTION.total_seconds()),
    ],
)
def test_a_task_retention_on_the_wire(given: Any, wire: Any) -> None:
    assert retention_to_wire(given) == wire


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (timedelta(0), "longer than zero"),
        (timedelta(seconds=-5), "longer than zero"),
        (MAX_RETENTION + timedelta(seconds=1), "longer than 100 years"),
        (3600, "must be a duration, not int 3600"),
        (1.5, "must be a duration, not float"),
        (True, "must be a duration, not bool"),
        ("never", "must be a duration, not str"),
        ("1h", "must be a duration"),
        (datetime(2030, 1, 1, tzinfo=UTC), "must be a duration, not datetime"),
    ],
)
def test_a_bad_task_retention_is_refused(given: Any, message: str) -> None:
    with pytest.raises(InvalidRetentionError, match=message) as info:
        retention_to_wire(given)
    assert isinstance(info.value, UsageError)
    assert info.value.status == 400
    assert info.value.detail == {"retention": repr(given)}


@pytest.mark.parametrize(
    ("received", "expected"),
    [(None, None), ("never", "never"), (1, 1.0), (0.25, 0.25), (86_400, 86_400.0)],
)
def test_a_wire_retention_is_checked_again(received: Any, expected: Any) -> None:
    assert retention_from_wire(received) == expected


@pytest.mark.parametrize(
    "received",
    [0, -1, 0.0, math.inf, math.nan, True, False, "forever", "3600", [], {}, 1e300],
)
def test_a_bad_wire_retention_is_refused(received: Any) -> None:
    with pytest.raises(InvalidRetentionError):
        retention_from_wire(received)


def test_expiry_is_computed_from_now() -> None:
    week = timedelta(days=7)
    assert expiry_of(None, now=NOW, default=None) is None
    assert expiry_of(None, now=NOW, default=week) == NOW + week
    assert expiry_of(NEVER, now=NOW, default=week) is None
    assert expiry_of(90.5, now=NOW, default=week) == NOW + timedelta(seconds=90.5)
    assert expiry_of(90.5, now=NOW, default=None) == NOW + timedelta(seconds=90.5)
