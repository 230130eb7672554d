"""Versions and compare-and-set of the state accessors: ``get_entry``, ``update``.

Every key carries a version, assigned by the write that made it. ``set(..., if_version=n)``
writes only if the key is still at ``n`` (0: only if it does not exist), else raises
:class:`~taskstate.errors.VersionConflictError`. ``update(key, fn)`` builds a read-modify-write
on it: read the entry, compute ``fn(value)``, write it at the version read, and on a conflict
start again after a short, jittered, growing pause, so that concurrent writers never lose an
update they did not choose to overwrite.
"""

from __future__ import annotations

import abc
import asyncio
import functools
import random
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

import msgspec

from taskstate.errors import VersionConflictError
from taskstate.state.retention import Retention
from taskstate.state.types import JSONValue

__all__ = ["Entry", "VersionedOps"]

_FIRST_PAUSE = 0.001
_LONGEST_PAUSE = 0.1


class Entry(msgspec.Struct, frozen=True):
    """One key as stored: its value, version, expiry and last writer."""

    value: JSONValue
    version: int
    """0 when the server's state backend keeps no versions."""
    expires_at: datetime | None = None
    written_by: Any = None
    """Who wrote it last: ``"api"``, or the dag_id, run_id, task_id, map_index and try_number
    of a try, as a dict; None if not recorded."""


class VersionedOps(abc.ABC):
    """``get_entry`` and ``update`` (and their async twins), on an accessor's get and set."""

    @abc.abstractmethod
    def get_entry(self, key: str) -> Entry | None:
        """The stored entry of ``key``, or None when there is none."""

    @abc.abstractmethod
    def set(
        self,
        key: str,
        value: JSONValue,
        *,
        retention: Retention = None,
        if_version: int | None = None,
    ) -> int: ...

    def update(
        self,
        key: str,
        fn: Callable[[Any], JSONValue],
        *,
        default: Any = None,
        retries: int = 64,
        retention: Retention = None,
    ) -> JSONValue:
        """Set ``key`` to ``fn(current value)`` (``fn(default)`` when there is none), atomically:
        retried up to ``retries`` times when another writer got in first; returns the value
        written. ``fn`` may run more than once, so it must have no side effects."""
        attempt = 0
        while True:
            entry = self.get_entry(key)
            value = fn(default if entry is None else entry.value)
            expected = 0 if entry is None else entry.version
            try:
                self.set(key, value, retention=retention, if_version=expected)
            except VersionConflictError as exc:
                if attempt >= retries:
                    raise VersionConflictError(
                        f"{exc.message}; gave up after {retries} retries",
                        detail={**exc.detail, "retries": retries},
                    ) from exc
                attempt += 1
                ceiling = min(_LONGEST_PAUSE, _FIRST_PAUSE * 2**attempt)
                time.sleep(random.uniform(0, ceiling))
                continue
            return value

    async def aget_entry(self, key: str) -> Entry | None:
        """Async twin of :meth:`get_entry`."""
        return await asyncio.to_thread(self.get_entry, key)

    async def aupdate(
        self,
        key: str,
        fn: Callable[[Any], JSONValue],
        *,
        default: Any = None,
        retries: int = 64,
        retention: Retention = None,
    ) -> JSONValue:
        """Async twin of :meth:`update` (``fn`` is a plain function, run in a worker thread)."""
        work = functools.partial(
            self.update, key, fn, default=default, retries=retries, retention=retention
        )
        return await asyncio.to_thread(work)
