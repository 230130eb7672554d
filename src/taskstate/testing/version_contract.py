"""The version section of the server-backend contract: what a backend with
``supports_versions`` promises (see :class:`~taskstate.state.backend.BaseStateBackend`).

Every key gets a version from the write that made it, larger than any the key had before, even
across a delete and a new set; ``if_version`` makes ``set`` and ``delete`` conditional (0: the
key must not exist) and a mismatch raises :class:`~taskstate.errors.VersionConflictError`,
changing nothing. A backend without versions skips this section.
"""

from __future__ import annotations

from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest

from taskstate.errors import VersionConflictError
from taskstate.state.backend import BaseStateBackend, can_expire
from taskstate.state.types import StateScope, StoredValue
from taskstate.testing._contract import entries

__all__ = ["VersionContract"]

T = TypeVar("T")


def _needs_versions(backend: BaseStateBackend) -> None:
    if not backend.supports_versions:
        pytest.skip(f"{type(backend).__name__} keeps no versions")


def _conflict(exc: pytest.ExceptionInfo[VersionConflictError], current: int | None) -> None:
    assert exc.value.detail["current_version"] == current


class VersionContract:
    """Versions and compare-and-set; mixed into ``ServerBackendContract``."""

    def run_async(self, coro: Coroutine[Any, Any, T]) -> T:
        raise NotImplementedError  # provided by the contract class

    def test_a_write_returns_the_version_a_read_gives(
        self, backend: BaseStateBackend, scope: StateScope
    ) -> None:
        _needs_versions(backend)
        version = backend.set(scope, "k", StoredValue("1"))
        assert isinstance(version, int) and version > 0
        got = backend.get(scope, "k")
        assert got is not None and got.version == version
        assert [e.stored.version for e in entries(backend, scope)] == [version]

    def test_every_write_raises_the_version(
        self, backend: BaseStateBackend, scope: StateScope
    ) -> None:
        _needs_versions(backend)
        versions = [backend.set(scope, "k", StoredValue(str(i))) for i in range(5)]
        assert versions == sorted(set(versions))  # type: ignore[type-var]

    def test_a_deleted_and_recreated_key_never_reuses_a_version(
        self, backend: BaseStateBackend, scope: StateScope
    ) -> None:
        _needs_versions(backend)
        first = backend.set(scope, "k", StoredValue("1"))
        second = backend.set(scope, "k", StoredValue("2"))
        removed = backend.delete(scope, "k")
        assert removed is not None and removed.version == second
        again = backend.set(scope, "k", StoredValue("3"))
        assert isinstance(first, int) and isinstance(second, int) and isinstance(again, int)
        assert again > second > first

    def test_an_encrypted_value_keeps_its_marker_and_its_versions(
        self, backend: BaseStateBackend, scope: StateScope
    ) -> None:
        """The encryption marker sits beside the version, the writer and the expiry: each
        survives a compare-and-set of the others."""
        _needs_versions(backend)
        ahead = datetime.now(UTC) + timedelta(hours=1)
        writer = '{"api": true}'
        sealed = StoredValue('"c2VhbGVk"', None, ahead, writer, encryption="k-2026")
        first = backend.set(scope, "k", sealed, if_version=0)  # type: ignore[call-arg]
        got = backend.get(scope, "k")
        assert got == sealed and got is not None and got.version == first
        ref = StoredValue("mem://sealed", "m.C", ahead, writer, encryption="k-2027")
        with pytest.raises(VersionConflictError) as caught:
            backend.set(scope, "k", ref, if_version=0)  # type: ignore[call-arg]
        _conflict(caught, first)
        second = backend.set(scope, "k", ref, if_version=first)  # type: ignore[call-arg]
        assert isinstance(first, int) and isinstance(second, int) and second > first
        got = backend.get(scope, "k")
        assert got == ref and got is not None and got.version == second
        removed = backend.delete(scope, "k", if_version=second)  # type: ignore[call-arg]
        assert removed == ref and removed is not None and removed.version == second

    def test_if_version_zero_creates_only(
        self, backend: BaseStateBackend, scope: StateScope
    ) -> None:
        _needs_versions(backend)
        created = backend.set(scope, "k", StoredValue("1"), if_version=0)  # type: ignore[call-arg]
        with pytest.raises(VersionConflictError) as caught:
            backend.set(scope, "k", StoredValue("2"), if_version=0)  # type: ignore[call-arg]
        _conflict(caught, created)
        assert backend.get(scope, "k") == StoredValue("1")

    def test_if_version_writes_only_at_that_version(
        self, backend: BaseStateBackend, scope: StateScope
    ) -> None:
        _needs_versions(backend)
        v1 = backend.set(scope, "k", StoredValue("1"))
        v2 = backend.set(scope, "k", StoredValue("2"), if_version=v1)  # type: ignore[call-arg]
        with pytest.raises(VersionConflictError) as caught:
            backend.set(scope, "k", StoredValue("3"), if_version=v1)  # type: ignore[call-arg]
        _conflict(caught, v2)
        assert backend.get(scope, "k") == StoredValue("2")
        with pytest.raises(VersionConflictError) as missing:
            backend.set(scope, "nope", StoredValue("1"), if_version=v2)  # type: ignore[call-arg]
        _conflict(missing, 0)
        assert backend.get(scope, "nope") is None

    def test_delete_if_version(self, backend: BaseStateBackend, scope: StateScope) -> None:
        _needs_versions(backend)
        v1 = backend.set(scope, "k", StoredValue("1"))
        v2 = backend.set(scope, "k", StoredValue("2"))
        with pytest.raises(VersionConflictError) as caught:
            backend.delete(scope, "k", if_version=v1)  # type: ignore[call-arg]
        _conflict(caught, v2)
        assert backend.get(scope, "k") == StoredValue("2")
        removed = backend.delete(scope, "k", if_version=v2)  # type: ignore[call-arg]
        assert removed == StoredValue("2")
        assert backend.get(scope, "k") is None

    def test_an_expired_key_counts_as_missing_for_if_version(
        self, backend: BaseStateBackend, scope: StateScope
    ) -> None:
        _needs_versions(backend)
        if not can_expire(backend):
            pytest.skip(f"{type(backend).__name__} cannot expire keys")
        past = datetime.now(UTC) - timedelta(seconds=1)
        old = backend.set(scope, "k", StoredValue("1", expires_at=past))
        with pytest.raises(VersionConflictError) as caught:
            backend.set(scope, "k", StoredValue("2"), if_version=old)  # type: ignore[call-arg]
        _conflict(caught, 0)
        new = backend.set(scope, "k", StoredValue("3"), if_version=0)  # type: ignore[call-arg]
        assert isinstance(old, int) and isinstance(new, int) and new > old
        assert backend.get(scope, "k") == StoredValue("3")

    def test_async_compare_and_set(self, backend: BaseStateBackend, scope: StateScope) -> None:
        _needs_versions(backend)

        async def scenario() -> tuple[int | None, int | None]:
            first = await backend.aset(scope, "k", StoredValue("1"), if_version=0)  # type: ignore[call-arg]
            with pytest.raises(VersionConflictError):
                await backend.aset(scope, "k", StoredValue("2"), if_version=0)  # type: ignore[call-arg]
            second = await backend.aset(scope, "k", StoredValue("3"), if_version=first)  # type: ignore[call-arg]
            with pytest.raises(VersionConflictError):
                await backend.adelete(scope, "k", if_version=first)  # type: ignore[call-arg]
            got = await backend.aget(scope, "k")
            assert got is not None
            return second, got.version

        second, read = self.run_async(scenario())
        assert second == read
