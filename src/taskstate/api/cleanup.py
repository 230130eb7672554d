"""Removing expired keys: the API server's periodic clean-up and ``taskstate state clean``.

An expired key is invisible to every read from the moment it expires; the clean-up only gives its
storage back. It works in batches of ``[state_store] cleanup_batch_size`` keys, each one short
transaction that removes the batch and queues its references for purging (``taskstate state
purge``), so that no object of a worker-side backend is left behind. With the metastore, the
triggers queue them in the removing statement: a crash loses both or neither. Each periodic pass
also forgets purges finished more than a day ago (see :mod:`taskstate.api.purge`). A backend
outside the database (Redis) removes its batch through its async twin, then the references are
queued; a crash between the two leaves orphans, which ``state purge --orphans`` finds. Between
batches the clean-up yields to the event loop, so requests are served while a large backlog
drains; on SQLite, whose batches run on the event loop itself, it then leaves the loop to
requests for as long as the batch took.

Every API server process runs the periodic clean-up, every ``[state_store]
cleanup_interval_seconds`` (0: never). Several of them at once against one PostgreSQL database
take disjoint batches (``FOR UPDATE SKIP LOCKED``); a failure is logged and the next run tries
again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from taskstate.api import purge
from taskstate.api.app import AppState, in_transaction
from taskstate.backends.metastore import MetastoreStateBackend
from taskstate.errors import BackendError
from taskstate.state import BaseStateBackend
from taskstate.state.backend import can_expire

__all__ = [
    "CleanReport",
    "clean_batch",
    "clean_expired",
    "count_expired",
    "run_periodically",
]

log = logging.getLogger("taskstate.api.cleanup")


@dataclass
class CleanReport:
    """What a clean-up removed."""

    removed: int = 0
    """Expired keys removed."""
    queued: int = 0
    """References among them, queued for ``taskstate state purge``."""
    batches: int = 0
    """Batches (transactions) it took."""

    def add(self, other: CleanReport) -> None:
        self.removed += other.removed
        self.queued += other.queued
        self.batches += other.batches


def _require_expiry(state: AppState) -> BaseStateBackend:
    backend = state.state.backend
    if not can_expire(backend):
        raise BackendError(
            f"the state backend {type(backend).__name__} cannot remove expired keys",
            detail={"backend": type(backend).__name__},
        )
    return backend


async def count_expired(state: AppState) -> int:
    """How many keys have expired and wait for the clean-up."""
    backend = _require_expiry(state)
    return await backend.acount_expired(now=datetime.now(UTC))


async def clean_batch(state: AppState, *, limit: int) -> CleanReport:
    """Remove one batch of up to ``limit`` expired keys and queue their references."""
    backend = _require_expiry(state)
    now = datetime.now(UTC)

    if not isinstance(backend, MetastoreStateBackend):
        # A backend outside the database (Redis) removes the batch on its own, through its
        # async twin; a crash before the references are queued leaves only orphans, which
        # `state purge --orphans` finds.
        batch = await backend.adelete_expired(now=now, limit=limit)
        refs = batch.refs
        queued = await in_transaction(state, lambda session: purge.add_to_queue(session, refs))
        return CleanReport(batch.removed, queued, 1)

    def work(session: Session) -> CleanReport:
        # The metastore's triggers queue the references in the statement that removes them.
        batch = backend.delete_expired(now=now, limit=limit, session=session)
        return CleanReport(batch.removed, len(batch.refs), 1)

    started = time.perf_counter()
    report = await in_transaction(state, work)
    if state.database.dialect == "sqlite":
        # A SQLite batch runs on the event loop from start to commit, and nothing else is served
        # meanwhile. Leaving the loop to requests for as long again caps the clean-up at half of
        # it: without this, writers fell from ~2,300 to ~100 operations per second while 1M
        # expired rows were cleaned (benchmarks/cleanup.py).
        await asyncio.sleep(time.perf_counter() - started)
    return report


async def clean_expired(state: AppState, *, limit: int) -> CleanReport:
    """Remove every key expired by now, a batch of ``limit`` at a time."""
    report = CleanReport()
    while True:
        batch = await clean_batch(state, limit=limit)
        report.add(batch)
        if batch.removed < limit:
            return report
        await asyncio.sleep(0)  # let requests in between two batches


async def run_periodically(
    state: AppState,
    *,
    interval: float,
    limit: int,
    on_pass: Callable[[CleanReport | None], None] | None = None,
) -> None:
    """Clean every ``interval`` seconds until cancelled; the first run comes after one interval.

    A failed run is logged and the next one tries again: the clean-up never stops the server.
    ``on_pass`` is called after every run, with its report (None if it failed).
    """
    backend = state.state.backend
    if not can_expire(backend):
        log.info("%s cannot remove expired keys; no periodic clean-up", type(backend).__name__)
        return
    while True:
        await asyncio.sleep(interval)
        report: CleanReport | None = None
        try:
            report = await clean_expired(state, limit=limit)
            await purge.drop_tombstones(state)
        except Exception:
            log.exception("the clean-up of expired keys failed; next try in %s s", interval)
        else:
            if report.removed:
                log.info(
                    "removed %d expired keys, queued %d references for purging",
                    report.removed,
                    report.queued,
                )
        if on_pass is not None:
            on_pass(report)
