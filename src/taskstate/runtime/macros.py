"""``context["macros"]``: the helpers Airflow's templates reach as ``macros.NAME``.

This module is the object itself: ``{{ macros.ds_add(ds, 1) }}``,
``{{ macros.datetime(2026, 1, 1) }}``, ``{{ macros.timedelta(days=1) }}``, and the modules
``json``, ``time``, ``uuid``; ``random`` is the function ``random.random``, as in Airflow.
Airflow's ``dateutil``, ``yaml`` and ``ds_format_locale`` (which needs Babel) are not offered.
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import datetime, timedelta
from random import random
from typing import Any

__all__ = [
    "datetime",
    "datetime_diff_for_humans",
    "ds_add",
    "ds_format",
    "json",
    "random",
    "time",
    "timedelta",
    "uuid",
]


def ds_add(ds: str, days: int) -> str:
    """``ds`` (``YYYY-MM-DD``) moved by ``days`` (negative: back): ``ds_add("2026-03-01", -1)``
    is ``"2026-02-28"``."""
    if not days:
        return str(ds)
    return (datetime.strptime(str(ds), "%Y-%m-%d") + timedelta(days=days)).strftime("%Y-%m-%d")


def ds_format(ds: str, input_format: str, output_format: str) -> str:
    """``ds`` read with ``input_format`` and written with ``output_format`` (strftime codes)."""
    return datetime.strptime(str(ds), input_format).strftime(output_format)


def datetime_diff_for_humans(dt: Any, since: Any = None) -> str:
    """How far ``dt`` is from ``since`` (default: now), in words: ``"2 days ago"``."""
    import pendulum  # here: templates rarely use it

    other = None if since is None else pendulum.instance(since)
    return str(pendulum.instance(dt).diff_for_humans(other))
