"""The contract's tests of retention and provenance, inherited by ``ServerBackendContract``.

Expiry is tested without waiting: a key whose ``expires_at`` is already past must read as
missing, and ``delete_expired``/``count_expired`` take their ``now`` as an argument. Their tests
file keys that expire in 2001, long before the keys of any other test, so that a database shared
by the tests of a module counts only the keys the test itself wrote; each leaves none behind.
A backend that cannot expire keys (:func:`~taskstate.state.backend.can_expire`) skips the tests
that hand it an expiry: the API server refuses retentions for it.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest

from taskstate.state.backend import BaseStateBackend, can_expire
from taskstate.state.types import (
    AssetScope,
    ExpiredBatch,
    StateKind,
    StateScope,
    StoredValue,
    TaskScope,
)
from taskstate.testing._contract import REF_BACKEND, entries, supported

__all__ = ["RetentionContract"]

T = TypeVar("T")

_ANCIENT = datetime(2001, 1, 1, tzinfo=UTC)

WRITER = '{"dag_id":"d:1","run_id":"ключ 🔑","task_id":"t","map_index":3,"try_number":2}'
API = '"api"'


def _at(seconds: float) -> datetime:
    """A moment of the tests' private window in 2001."""
    return _ANCIENT + timedelta(seconds=seconds)


def _refs(batch: ExpiredBatch) -> list[tuple[StateKind, str, str | None]]:
    """The references of a batch, as (kind, data, ref_backend), in a stable order."""
    return sorted((kind, s.data, s.ref_backend) for kind, s in batch.refs)


def _needs_expiry(backend: BaseStateBackend) -> None:
    """Skip the test if ``backend`` cannot expire keys (the API server then refuses retentions,
    so it is never handed an expiry)."""
    if not can_expire(backend):
        pytest.skip(f"{type(backend).__name__} cannot expire keys")


def _soon() -> tuple[datetime, datetime]:
    """(a moment just past, an hour ahead), with microseconds, as the API server makes them."""
    now = datetime.now(UTC)
    return now - timedelta(seconds=1, microseconds=123), now + timedelta(hours=1, microseconds=7)


class RetentionContract:
    """Retention and provenance: what every server-side backend does with ``expires_at`` and
    ``written_by``. Uses the fixtures of :class:`ServerBackendContract`."""

    def run_async(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run one async scenario to its end."""
        return asyncio.run(coro)

    def _expire(self, backend: BaseStateBackend, now: datetime, limit: int) -> ExpiredBatch:
        return supported(
            lambda: backend.delete_expired(now=now, limit=limit), "remove expired keys", backend
        )

    def _count(self, backend: BaseStateBackend, now: datetime) -> int:
        return supported(lambda: backend.count_expired(now=now), "count expired keys", backend)

    # -- reads hide expired keys at once --------------------------------------------------------

    def test_an_expired_key_reads_as_missing(
        self, backend: BaseStateBackend, scope: StateScope
    ) -> None:
        _needs_expiry(backend)
        past, ahead = _soon()
        backend.set(scope, "gone", StoredValue('"old"', expires_at=past))
        backend.set(scope, "gone_ref", StoredValue("mem://gone", REF_BACKEND, expires_at=past))
        backend.set(scope, "later", StoredValue('"new"', expires_at=ahead))
        backend.set(scope, "kept", StoredValue('"forever"'))
        assert backend.get(scope, "gone") is None
        assert backend.get(scope, "gone_ref") is None
        assert backend.get(scope, "later") == StoredValue('"new"', expires_at=ahead)
        assert [e.key for e in entries(backend, scope)] == ["kept", "later"]

        async def scenario() -> None:
            assert await backend.aget(scope, "gone") is None
            assert [e.key for e in await backend.alist_entries(scope)] == ["kept", "later"]

        self.run_async(scenario())

    def test_a_key_disappears_when_its_time_comes(
        self, backend: BaseStateBackend, scope: StateScope
    ) -> None:
        _needs_expiry(backend)
        expires_at = datetime.now(UTC) + timedelta(seconds=0.3)
        backend.set(scope, "brief", StoredValue('"here"', expires_at=expires_at))
        assert backend.get(scope, "brief") == StoredValue('"here"', expires_at=expires_at)
        # Waiting for the clock itself: nothing else could signal the moment.
        time.sleep(max(0.0, (expires_at - datetime.now(UTC)).total_seconds()) + 0.01)
        assert backend.get(scope, "brief") is None
        assert entries(backend, scope) == []

    def test_set_replaces_an_expired_key(
        self, backend: BaseStateBackend, scope: StateScope
    ) -> None:
        _needs_expiry(backend)
        past, _ = _soon()
        backend.set(scope, "k", StoredValue("mem://old", REF_BACKEND, expires_at=past))
        backend.set(scope, "k", StoredValue('"new"'))
        assert backend.get(scope, "k") == StoredValue('"new"')
        assert [(e.key, e.stored) for e in entries(backend, scope)] == [("k", StoredValue('"new"'))]

    def test_a_set_without_expiry_makes_a_key_permanent(
        self, backend: BaseStateBackend, scope: StateScope
    ) -> None:
        _needs_expiry(backend)
        backend.set(scope, "k", StoredValue("1", expires_at=_at(1)))
        backend.set(scope, "k", StoredValue("2"))
        assert backend.get(scope, "k") == StoredValue("2")
        assert self._count(backend, _at(10)) == 0
        assert self._expire(backend, _at(10), 100) == ExpiredBatch(0, [])
        assert backend.get(scope, "k") == StoredValue("2")

    def test_delete_and_clear_return_expired_references(
        self, backend: BaseStateBackend, scope: StateScope
    ) -> None:
        _needs_expiry(backend)
        past, _ = _soon()
        backend.set(scope, "a", StoredValue("mem://a", REF_BACKEND, expires_at=past))
        backend.set(scope, "b", StoredValue("mem://b", REF_BACKEND, expires_at=past))
        backend.set(scope, "c", StoredValue('"inline"', expires_at=past))
        removed = backend.delete(scope, "a")
        assert removed is not None
        assert (removed.data, removed.ref_backend) == ("mem://a", REF_BACKEND)
        cleared = backend.clear(scope)
        assert [(s.data, s.ref_backend) for s in cleared] == [("mem://b", REF_BACKEND)]
        assert backend.delete(scope, "c") is None

    def test_find_refs_counts_expired_rows_until_they_are_removed(
        self, backend: BaseStateBackend, task_scope: TaskScope
    ) -> None:
        _needs_expiry(backend)
        ref = f"mem://{uuid.uuid4().hex}/expired"
        backend.set(task_scope, "k", StoredValue(ref, REF_BACKEND, expires_at=_at(1)))
        assert backend.get(task_scope, "k") is None
        found = supported(
            lambda: backend.find_refs(REF_BACKEND, [ref]), "look up references", backend
        )
        assert found == {ref}
        batch = self._expire(backend, _at(2), 10)
        assert _refs(batch) == [("task", ref, REF_BACKEND)]
        assert backend.find_refs(REF_BACKEND, [ref]) == frozenset()

    # -- delete_expired and count_expired -------------------------------------------------------

    def test_delete_expired_removes_the_oldest_in_batches(
        self, backend: BaseStateBackend, task_scope: TaskScope, asset_scope: AssetScope
    ) -> None:
        _needs_expiry(backend)
        for i in range(3):
            backend.set(task_scope, f"t{i}", StoredValue(f'"{i}"', expires_at=_at(1 + i)))
        backend.set(asset_scope, "ref", StoredValue("mem://asset", REF_BACKEND, expires_at=_at(4)))
        backend.set(task_scope, "ref", StoredValue("mem://task", REF_BACKEND, expires_at=_at(5)))
        backend.set(task_scope, "later", StoredValue('"l"', expires_at=_at(100)))
        backend.set(asset_scope, "kept", StoredValue('"k"'))
        assert self._count(backend, _at(0)) == 0
        assert self._count(backend, _at(10)) == 5

        assert self._expire(backend, _at(10), 2) == ExpiredBatch(2, [])
        assert self._count(backend, _at(2.5)) == 0  # t0 and t1, the two oldest, went first
        assert self._count(backend, _at(10)) == 3
        rest = self._expire(backend, _at(10), 10)
        assert rest.removed == 3
        assert _refs(rest) == [
            ("asset", "mem://asset", REF_BACKEND),
            ("task", "mem://task", REF_BACKEND),
        ]
        assert self._expire(backend, _at(10), 10) == ExpiredBatch(0, [])

        assert self._count(backend, _at(100)) == 1
        assert self._expire(backend, _at(100), 10) == ExpiredBatch(1, [])
        assert backend.get(asset_scope, "kept") == StoredValue('"k"')
        assert backend.delete(task_scope, "later") is None
        assert backend.delete(task_scope, "t0") is None

    def test_delete_expired_empties_mapped_scopes(
        self, backend: BaseStateBackend, mapped_task_scopes: list[TaskScope]
    ) -> None:
        _needs_expiry(backend)
        for scope in mapped_task_scopes:
            ref = f"mem://{scope.map_index}"
            backend.set(scope, "k", StoredValue(ref, REF_BACKEND, expires_at=_at(1)))
        batch = self._expire(backend, _at(1), 100)
        assert batch.removed == len(mapped_task_scopes)
        expected = [("task", f"mem://{s.map_index}", REF_BACKEND) for s in mapped_task_scopes]
        assert _refs(batch) == expected
        # The scopes are empty: a clear of all map indices finds nothing left.
        assert backend.clear(mapped_task_scopes[0], all_map_indices=True) == []

    def test_keys_removed_otherwise_are_not_expired_again(
        self, backend: BaseStateBackend, scope: StateScope, other_scope: StateScope
    ) -> None:
        _needs_expiry(backend)
        backend.set(scope, "deleted", StoredValue("1", expires_at=_at(1)))
        backend.set(scope, "cleared", StoredValue("mem://c", REF_BACKEND, expires_at=_at(1)))
        backend.set(other_scope, "k", StoredValue("mem://o", REF_BACKEND, expires_at=_at(1)))
        backend.delete(scope, "deleted")
        backend.clear(scope)
        assert self._count(backend, _at(2)) == 1
        batch = self._expire(backend, _at(2), 10)
        assert batch.removed == 1
        assert [(s.data, s.ref_backend) for _, s in batch.refs] == [("mem://o", REF_BACKEND)]

    def test_async_twins_of_the_clean_up(
        self, backend: BaseStateBackend, task_scope: TaskScope, asset_scope: AssetScope
    ) -> None:
        _needs_expiry(backend)
        backend.set(task_scope, "k", StoredValue('"t"', expires_at=_at(1)))
        backend.set(asset_scope, "k", StoredValue("mem://a", REF_BACKEND, expires_at=_at(2)))

        async def scenario() -> None:
            assert await backend.acount_expired(now=_at(2)) == 2
            first = await backend.adelete_expired(now=_at(2), limit=1)
            assert first == ExpiredBatch(1, [])
            second = await backend.adelete_expired(now=_at(2), limit=1)
            assert _refs(second) == [("asset", "mem://a", REF_BACKEND)]
            assert await backend.acount_expired(now=_at(2)) == 0

        self.run_async(scenario())

    # -- provenance -------------------------------------------------------------------------------

    def test_expiry_and_writer_round_trip_exactly(
        self, backend: BaseStateBackend, scope: StateScope
    ) -> None:
        _needs_expiry(backend)
        _, ahead = _soon()
        value = StoredValue('{"a": 1}', expires_at=ahead, written_by=WRITER)
        ref = StoredValue("mem://r", REF_BACKEND, expires_at=ahead, written_by=API)
        backend.set(scope, "v", value)
        backend.set(scope, "r", ref)
        assert backend.get(scope, "v") == value
        assert backend.get(scope, "r") == ref
        assert {e.key: e.stored for e in entries(backend, scope)} == {"v": value, "r": ref}
        assert self.run_async(backend.aget(scope, "r")) == ref
        assert backend.delete(scope, "v") == value

    def test_the_last_write_names_the_writer(
        self, backend: BaseStateBackend, scope: StateScope
    ) -> None:
        backend.set(scope, "k", StoredValue('"a"', written_by=WRITER))
        backend.set(scope, "k", StoredValue('"b"', written_by=API))
        assert backend.get(scope, "k") == StoredValue('"b"', written_by=API)
        self.run_async(backend.aset(scope, "k", StoredValue('"c"', written_by=WRITER)))
        assert backend.get(scope, "k") == StoredValue('"c"', written_by=WRITER)
        backend.set(scope, "k", StoredValue('"d"'))
        assert backend.get(scope, "k") == StoredValue('"d"')
