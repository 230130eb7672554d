"""How long a task instance waits before its next try."""

from __future__ import annotations

import hashlib
import math
from datetime import timedelta

__all__ = ["MAX_RETRY_DELAY_SECONDS", "backoff_multiplier", "retry_delay_seconds"]

# The longest delay exponential backoff reaches before ``max_retry_delay`` applies (a day, as
# Airflow's ``[core] max_task_retry_delay`` default).
MAX_RETRY_DELAY_SECONDS = 24 * 60 * 60


def backoff_multiplier(value: bool | float | None) -> float:
    """The factor each retry multiplies the delay by: ``retry_exponential_backoff=True`` is 2
    (Airflow 3 also takes the factor itself, e.g. 5.0), False, None and 0 keep it constant."""
    if value is None or value is False:
        return 1.0
    if value is True:
        return 2.0
    factor = float(value)
    return factor if factor > 0 else 1.0


def retry_delay_seconds(
    retry_delay: timedelta,
    *,
    try_number: int,
    exponential_backoff: bool | float | None = False,
    max_retry_delay: timedelta | None = None,
    seed: str = "",
) -> float:
    """The delay after try ``try_number`` failed, before the next try starts.

    Without backoff it is ``retry_delay``. With a backoff factor ``m`` (``True``: 2) it grows as
    Airflow 3.3.2's does: the base is ``ceil(retry_delay * m ** (try_number - 1))`` seconds,
    at least 1 s, so the first retry waits about ``retry_delay``, the next about ``m`` times
    that, and so on. To spread the retries of many instances that failed together, a
    deterministic jitter adds up to one base more: the delay lies in ``[base, 2 * base)``, at a
    point fixed by a hash of ``seed`` (the task instance and try), so the same try always
    waits the same. It is capped at a day, then at ``max_retry_delay`` when that is set.
    """
    multiplier = backoff_multiplier(exponential_backoff)
    seconds = retry_delay.total_seconds()
    if multiplier == 1.0:
        return seconds
    try:
        base = math.ceil(seconds * multiplier ** max(try_number - 1, 0))
    except OverflowError:
        base = MAX_RETRY_DELAY_SECONDS
    base = min(max(base, 1), MAX_RETRY_DELAY_SECONDS)
    digest = hashlib.sha256(f"{seed}#{try_number}".encode()).digest()
    jittered = base + int.from_bytes(digest[:8], "big") % base
    delay = float(min(jittered, MAX_RETRY_DELAY_SECONDS))
    if max_retry_delay:
        delay = min(delay, max_retry_delay.total_seconds())
    return delay
