"""State operations as both routers perform them: validate, then call the server backend.

The API server never trusts its callers: keys, values, references and retentions are checked
here again, whatever the task process already checked. A write of a try carries its fence: a
backend that fences checks it in the statement that writes; for one that does not, the try is
checked here, in a statement of its own (``try_check``). Expiry times are computed here, on the
API server's clock, from the caller's retention or the server's default.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec

from taskstate.errors import (
    BackendError,
    ConfigError,
    InvalidRetentionError,
    InvalidValueError,
    VersionConflictError,
    VersionsNotSupportedError,
)
from taskstate.state import BaseStateBackend, StateEntry, StateScope, StoredValue
from taskstate.state.backend import can_expire
from taskstate.state.codec import validate_encoded_value, validate_key, validate_ref
from taskstate.state.retention import expiry_of, retention_from_wire
from taskstate.state.types import TryFence

__all__ = ["StateService"]

_BACKEND_PATH = re.compile(r"[A-Za-z_][\w.:]{0,499}")
_KEY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def _encryption(key_id: str | None, data: bytes | None = None) -> str | None:
    """``key_id`` if it can name an encryption key; an encrypted inline value is a string."""
    if key_id is None:
        return None
    if not _KEY_ID.fullmatch(key_id):
        raise InvalidValueError(f"not an encryption key id: {key_id[:80]!r}")
    if data is not None and not data.startswith(b'"'):
        raise InvalidValueError("an encrypted value must be a JSON string of its ciphertext")
    return key_id


class StateService:
    def __init__(
        self,
        backend: BaseStateBackend,
        *,
        max_value_bytes: int,
        default_retention: timedelta | None = None,
    ) -> None:
        self.backend = backend
        self.max_value_bytes = max_value_bytes
        self.default_retention = default_retention
        """Retention of a write that names none; None: such keys never expire."""
        self.try_check: Callable[[TryFence], Awaitable[None]] | None = None
        """Raises StaleTryError unless the try is running; for backends that do not fence."""
        self.on_replaced: Callable[[StateScope, StoredValue], Awaitable[None]] | None = None
        """Queues a reference a set replaced, for a backend that does not queue it itself and
        tells what it replaced (``areplace``, as the Redis backend does)."""
        self._can_expire = can_expire(backend)
        if default_retention is not None and not self._can_expire:
            raise ConfigError(
                f"[state_store] default_retention_days is set, but the state backend "
                f"{type(backend).__name__} cannot expire keys; set it to 0 or use a backend "
                "that can",
                detail={"setting": "[state_store] default_retention_days"},
            )

    def _expiry(self, retention: object) -> datetime | None:
        wire = retention_from_wire(retention)
        expires_at = expiry_of(wire, now=datetime.now(UTC), default=self.default_retention)
        if expires_at is not None and not self._can_expire:
            # Stored without its expiry, the key would outlive what its writer asked for.
            raise InvalidRetentionError(
                f"the state backend {type(self.backend).__name__} cannot expire keys; "
                "set the key without a retention"
            )
        return expires_at

    def _checks(self, if_version: int | None, fence: TryFence | None) -> dict[str, Any]:
        """The keyword arguments that carry ``if_version`` and ``fence`` to the backend."""
        kwargs: dict[str, Any] = {}
        if if_version is not None:
            if not self.backend.supports_versions:
                raise VersionsNotSupportedError(
                    f"the state backend {type(self.backend).__name__} keeps no versions; "
                    "write without one",
                    detail={"backend": type(self.backend).__name__},
                )
            if not 0 <= if_version < 2**63:
                raise VersionConflictError(
                    f"a version is 0 or a positive 64-bit number, not {if_version}",
                    detail={"if_version": if_version, "current_version": 0},
                )
            kwargs["if_version"] = if_version
        if fence is not None:
            kwargs["fence"] = fence
        return kwargs

    async def _check_fence(self, fence: TryFence | None) -> None:
        """For a backend that does not fence: the try checked in a statement of its own."""
        if fence is not None and not self.backend.supports_fencing and self.try_check is not None:
            await self.try_check(fence)

    async def get(self, scope: StateScope, key: str) -> StoredValue | None:
        return await self.backend.aget(scope, validate_key(key))

    async def set_value(
        self,
        scope: StateScope,
        key: str,
        data: bytes,
        *,
        retention: object = None,
        written_by: str | None = None,
        if_version: int | None = None,
        fence: TryFence | None = None,
        encryption: str | None = None,
    ) -> StoredValue:
        """Store ``data`` (JSON text) for ``key``; ``retention`` as it came on the wire.

        ``encryption``: the id of the key the task process encrypted the value with.
        Returns what was stored, expiry, writer and version included.
        """
        validate_key(key)
        validate_encoded_value(data, max_bytes=self.max_value_bytes)
        key_id = _encryption(encryption, data)
        expires_at = self._expiry(retention)
        stored = StoredValue(data.decode(), None, expires_at, written_by, encryption=key_id)
        return await self._store(scope, key, stored, if_version, fence)

    async def set_ref(
        self,
        scope: StateScope,
        key: str,
        ref: str,
        ref_backend: str,
        *,
        retention: object = None,
        written_by: str | None = None,
        if_version: int | None = None,
        fence: TryFence | None = None,
        encryption: str | None = None,
        restored_after: int = 0,
    ) -> StoredValue:
        """Store the reference ``ref`` for ``key``. ``restored_after``: the newest purge the
        writer saw finish before it stored the object (see :mod:`taskstate.api.purge`)."""
        validate_key(key)
        validate_ref(ref)
        if not 0 <= restored_after < 2**63:
            raise InvalidValueError(f"restored_after is a purge number, not {restored_after}")
        key_id = _encryption(encryption)
        if not _BACKEND_PATH.fullmatch(ref_backend):
            raise InvalidValueError(
                f"a reference must name the class path of the backend that wrote it, "
                f"not {ref_backend!r}"
            )
        expires_at = self._expiry(retention)
        stored = StoredValue(ref, ref_backend, expires_at, written_by, encryption=key_id)
        return await self._store(scope, key, stored, if_version, fence, restored_after)

    async def _store(
        self,
        scope: StateScope,
        key: str,
        stored: StoredValue,
        if_version: int | None,
        fence: TryFence | None,
        restored_after: int = 0,
    ) -> StoredValue:
        kwargs = self._checks(if_version, fence)
        if stored.ref_backend is not None and self.backend.guards_purges:
            kwargs["restored_after"] = restored_after
        await self._check_fence(fence)
        replace = getattr(self.backend, "areplace", None)
        if replace is None or self.on_replaced is None:
            version = await self.backend.aset(scope, key, stored, **kwargs)
        else:
            version, old = await replace(scope, key, stored, **kwargs)
            if old is not None and old.ref_backend is not None and old.data != stored.data:
                await self.on_replaced(scope, old)
        return msgspec.structs.replace(stored, version=version or 0)

    async def delete(
        self,
        scope: StateScope,
        key: str,
        *,
        if_version: int | None = None,
        fence: TryFence | None = None,
    ) -> StoredValue | None:
        validate_key(key)
        kwargs = self._checks(if_version, fence)
        await self._check_fence(fence)
        return await self.backend.adelete(scope, key, **kwargs)

    async def clear(
        self, scope: StateScope, *, all_map_indices: bool = False, fence: TryFence | None = None
    ) -> list[StoredValue]:
        kwargs = self._checks(None, fence)
        await self._check_fence(fence)
        return await self.backend.aclear(scope, all_map_indices=all_map_indices, **kwargs)

    async def list_entries(self, scope: StateScope) -> list[StateEntry]:
        try:
            return await self.backend.alist_entries(scope)
        except NotImplementedError as exc:
            raise BackendError(
                f"the state backend {type(self.backend).__name__} cannot list its keys"
            ) from exc

    async def find_refs(self, ref_backend: str, refs: Sequence[str]) -> frozenset[str] | None:
        """Which of ``refs`` are still stored; None if the backend cannot tell."""
        try:
            return await self.backend.afind_refs(ref_backend, refs)
        except NotImplementedError:
            return None
