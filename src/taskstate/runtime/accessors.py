"""``context["task_state"]`` and ``context["asset_state"]``: what a task calls.

Both accessors share one core (:class:`StateAccessor`) and differ only in the scope their frames
name and the owner they store values for. With a worker-side backend configured (called through
:class:`~taskstate.runtime.worker_backend.WorkerBackend`, whichever hooks it implements):

* ``set``: the hook stores the value and returns a reference; then the reference is written.
* ``get``: the reference is read; then the hook resolves it.
* ``delete`` / ``clear``: the rows go first (the reply says which references they held, and
  the claim under which this task may purge them); then the objects are purged and the claim
  reported done. A ``set`` of a reference likewise purges what it replaced. No reader ever
  meets a reference whose object is gone, and no purge removes an object a reference names
  (see :mod:`taskstate.api.purge` and :mod:`taskstate.runtime.references`).
* A reference is checked against this scope before it is read or purged (``ForeignReferenceError``).

With ``[workers] encryption_keys`` (a :class:`~taskstate.runtime.encryption.Keyring`), ``set``
encrypts the value's JSON text first and stores the ciphertext, a JSON string, in its place
(through the worker backend too); ``get`` decrypts what it reads that is marked encrypted.

``set`` takes a ``retention`` (see :mod:`taskstate.state.retention`), checked before anything is
stored or sent. With a worker-side backend it is the reference that expires; the API server's
clean-up then queues the object for purging.

The async twins run the same calls in a worker thread, so neither the socket nor a hook ever
blocks the event loop.
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import functools
import json
import sys
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from taskstate.contracts.frames import (
    ClearState,
    DeleteState,
    GetState,
    PurgeDone,
    SetReply,
    SetState,
    StateReply,
)
from taskstate.contracts.scopes import AssetNamed, FrameScope, OwnTask
from taskstate.errors import (
    BackendError,
    ReferenceResolutionError,
    StaleTryError,
    TaskStateError,
    UndeclaredAssetError,
    VersionConflictError,
)
from taskstate.runtime.comms import SupervisorComms
from taskstate.runtime.encryption import Keyring, missing_keys_error
from taskstate.runtime.references import write_ref
from taskstate.runtime.versions import Entry, VersionedOps
from taskstate.runtime.worker_backend import Inline, Owner, TaskOwner, WorkerBackend
from taskstate.sdk.asset import Asset
from taskstate.state.codec import (
    check_size,
    decode_value,
    encode_value,
    validate_key,
    validate_ref,
)
from taskstate.state.retention import Retention, retention_to_wire
from taskstate.state.types import AssetScope, JSONValue, StateKind, StateScope, TaskScope

__all__ = ["AssetState", "AssetStates", "StateAccessor", "TaskState"]


class StateAccessor(VersionedOps):
    """get/set/delete/clear of one scope, through the supervisor and the worker backend."""

    _kind: StateKind
    """Which purge the references of this scope take."""
    _scope: FrameScope
    """The scope the frames name."""

    def __init__(
        self,
        comms: SupervisorComms,
        worker: WorkerBackend | None,
        max_value_bytes: int,
        owner: Owner,
        keyring: Keyring | None = None,
    ) -> None:
        self._comms = comms
        self._worker = worker
        self._max_value_bytes = max_value_bytes
        self._owner = owner
        self._keyring = keyring
        self._state_scope: StateScope = owner.scope if isinstance(owner, TaskOwner) else owner
        """The scope a ciphertext is bound to."""

    # -- what differs between task state and asset state ----------------------------------

    @abc.abstractmethod
    def _describe(self) -> str: ...

    # -- the four operations ---------------------------------------------------------------

    def get(self, key: str, default: JSONValue | None = None) -> JSONValue | None:
        """The value stored for ``key``, or ``default`` when there is none."""
        reply = self._comms.send(GetState(self._scope, validate_key(key)))
        if reply.data is None:
            return default
        return self._value(key, reply)

    def get_entry(self, key: str) -> Entry | None:
        """The value stored for ``key`` with its version, expiry and writer; None if none."""
        reply = self._comms.send(GetState(self._scope, validate_key(key)))
        if reply.data is None:
            return None
        expires = None if reply.expires_at is None else datetime.fromisoformat(reply.expires_at)
        writer = None if reply.written_by is None else json.loads(reply.written_by)
        return Entry(self._value(key, reply), reply.version, expires, writer)

    def _value(self, key: str, reply: StateReply) -> JSONValue:
        assert reply.data is not None
        if reply.ref_backend is None:
            value = decode_value(reply.data)
        else:
            value = self._resolve(key, reply.data.decode(), reply.ref_backend)
        return value if reply.encryption is None else self._decrypt(key, reply.encryption, value)

    def set(
        self,
        key: str,
        value: JSONValue,
        *,
        retention: Retention = None,
        if_version: int | None = None,
    ) -> int:
        """Store ``value`` (any JSON value but None) for ``key``, replacing what was there;
        returns the version the key got (0 when the server's backend keeps none).

        ``retention``: None for the server's default, a positive ``timedelta`` to expire that
        long after this write, or ``NEVER_EXPIRE``; anything else raises InvalidRetentionError.
        ``if_version``: write only if the key is at that version (0: only if it does not
        exist), else VersionConflictError.
        """
        validate_key(key)
        wire = retention_to_wire(retention)
        key_id: str | None = None
        if self._keyring is not None:
            # The plaintext never leaves this process: what is sent, or handed to the worker
            # backend, is the ciphertext as a JSON string.
            plain = encode_value(value, max_bytes=0)
            key_id, value = self._keyring.encrypt(self._state_scope, key, plain)
        worker = self._worker
        if worker is None:
            data = encode_value(value, max_bytes=self._max_value_bytes)
            return self._comms.send(
                SetState(self._scope, key, data, None, wire, if_version, key_id)
            ).version
        # The size limit guards the database; a value the worker backend keeps is not bound by it.
        try:
            stored = worker.store(self._owner, key, value)
        except TaskStateError:
            raise
        except Exception as exc:
            raise BackendError(
                f"worker backend {worker.path!r} failed to store {self._describe()} key {key!r}: "
                f"{type(exc).__name__}: {exc}",
                detail={"key": key, "backend": worker.path},
            ) from exc
        if isinstance(stored, Inline):  # the backend keeps it in the database
            check_size(len(stored.data), self._max_value_bytes)
            request = SetState(self._scope, key, stored.data, None, wire, if_version, key_id)
            return self._comms.send(request).version
        first: list[str | Inline] = [stored]

        def store() -> str:
            # The object was stored once above; a retry after a purge stores it again.
            again = first.pop() if first else worker.store(self._owner, key, value)
            if isinstance(again, Inline):
                raise BackendError(
                    f"worker backend {worker.path!r} kept {self._describe()} key {key!r} "
                    "inline on a retry after storing it as an object before",
                    detail={"key": key, "backend": worker.path},
                )
            return validate_ref(again)

        def send(ref: str, restored_after: int) -> SetReply:
            request = SetState(
                self._scope,
                key,
                ref.encode(),
                worker.path,
                wire,
                if_version,
                key_id,
                restored_after,
            )
            try:
                return self._comms.send(request)
            except (VersionConflictError, StaleTryError):
                self._drop_unwritten(key, ref.encode())
                raise

        _, reply = write_ref(store, send, worker.purges)
        if reply.claim is not None:
            self._purge_claimed(reply.refs, reply.claim, key=key)
        return reply.version

    def _drop_unwritten(self, key: str, ref: bytes) -> None:
        """Purge the object a refused write stored, unless the key names it anyway (a
        backend whose references are the same for every write of a key)."""
        current = self._comms.send(GetState(self._scope, key))
        if current.data != ref and self._worker is not None:
            with contextlib.suppress(Exception):
                self._worker.purge(self._kind, ref.decode())

    def delete(self, key: str, *, if_version: int | None = None) -> None:
        """Remove ``key`` (and the object its reference names); a missing key is no error.
        With ``if_version``, only if the key is at that version, else VersionConflictError."""
        removed = self._comms.send(DeleteState(self._scope, validate_key(key), if_version))
        if removed.data is not None and removed.ref_backend is not None and removed.claim:
            self._purge_claimed(
                [(removed.data.decode(), removed.ref_backend)], removed.claim, key=key
            )

    def clear(self) -> None:
        """Remove every key of this scope (and the objects their references name)."""
        removed = self._comms.send(ClearState(self._scope))
        if removed.claim is not None:
            self._purge_claimed(removed.refs, removed.claim, key=None)

    def _purge_claimed(self, refs: list[tuple[str, str]], claim: str, *, key: str | None) -> None:
        """Purge the objects the server let this task claim, then report the claim done (a
        claim left unreported lapses, and ``taskstate state purge`` takes the objects then)."""
        self._purge_refs(refs, key=key)
        done = self._comms.send(PurgeDone(claim))
        if self._worker is not None:
            self._worker.purges.saw(done.purged_through)

    async def aget(self, key: str, default: JSONValue | None = None) -> JSONValue | None:
        """Async twin of :meth:`get`."""
        return await asyncio.to_thread(self.get, key, default)

    async def aset(
        self,
        key: str,
        value: JSONValue,
        *,
        retention: Retention = None,
        if_version: int | None = None,
    ) -> int:
        """Async twin of :meth:`set`."""
        work = functools.partial(self.set, key, value, retention=retention, if_version=if_version)
        return await asyncio.to_thread(work)

    async def adelete(self, key: str, *, if_version: int | None = None) -> None:
        """Async twin of :meth:`delete`."""
        await asyncio.to_thread(functools.partial(self.delete, key, if_version=if_version))

    async def aclear(self) -> None:
        """Async twin of :meth:`clear`."""
        await asyncio.to_thread(self.clear)

    # -- encryption and references ----------------------------------------------------------

    def _decrypt(self, key: str, key_id: str, ciphertext: JSONValue) -> JSONValue:
        if self._keyring is None:
            raise missing_keys_error(self._state_scope, key, key_id)
        return decode_value(self._keyring.decrypt(self._state_scope, key, key_id, ciphertext))

    def _resolve(self, key: str, stored: str, ref_backend: str) -> JSONValue:
        """The value a reference names, through the worker backend's hook."""
        worker = self._worker
        if worker is None or not worker.owns(ref_backend):
            configured = (
                "no worker backend is configured"
                if worker is None
                else (f"the configured one is {worker.path!r}")
            )
            raise ReferenceResolutionError(
                f"{self._describe()} key {key!r} holds a reference written by worker backend "
                f"{ref_backend!r}, but {configured}; set [workers] state_backend = "
                f"{ref_backend!r} to read it",
                detail={"key": key, "ref_backend": ref_backend},
            )
        self._check_bound(worker, stored, key)
        return worker.resolve(self._owner, key, stored, what=self._describe())

    def _check_bound(self, worker: WorkerBackend, stored: str, key: str | None) -> None:
        owner = self._owner.ti_id if isinstance(self._owner, TaskOwner) else self._owner.name
        worker.check_bound(stored, kind=self._kind, owner=owner, key=key, what=self._describe())

    def _purge_refs(self, refs: list[tuple[str, str]], *, key: str | None = None) -> None:
        worker = self._worker
        failed: list[str] = []
        for stored, ref_backend in refs:
            if worker is not None and worker.owns(ref_backend):
                # The references are gone already; purge every object before reporting any
                # that could not be, so one failure leaves no more behind than it must.
                try:
                    self._check_bound(worker, stored, key)
                    worker.purge(self._kind, stored)
                except Exception as exc:
                    failed.append(f"{stored!r} ({type(exc).__name__}: {exc})")
            else:
                print(
                    f"taskstate: not purging {stored!r}: it was written by {ref_backend!r}, "
                    "which this task process does not have configured",
                    file=sys.stderr,
                )
        if failed:
            assert worker is not None
            raise BackendError(
                f"{self._describe()}: the references were removed, but worker backend "
                f"{worker.path!r} failed to purge {', '.join(failed)}",
                detail={"backend": worker.path, "failed": len(failed)},
            )


class TaskState(StateAccessor):
    """State of the running task instance: kept across its tries.

    ``ti_id`` and ``scope`` name the same task instance: taskstate's worker hooks are given
    the one, Airflow's the other.
    """

    _kind = "task"

    def __init__(
        self,
        comms: SupervisorComms,
        worker: WorkerBackend | None,
        max_value_bytes: int,
        *,
        ti_id: str,
        scope: TaskScope,
        keyring: Keyring | None = None,
    ) -> None:
        super().__init__(comms, worker, max_value_bytes, TaskOwner(ti_id, scope), keyring)
        self._scope = OwnTask()
        self.ti_id = ti_id
        self.scope = scope

    def _describe(self) -> str:
        return "task state"


class AssetState(StateAccessor):
    """State of one asset, shared by every run and task that declares it."""

    _kind = "asset"

    def __init__(
        self,
        comms: SupervisorComms,
        worker: WorkerBackend | None,
        max_value_bytes: int,
        *,
        asset: Asset,
        keyring: Keyring | None = None,
    ) -> None:
        super().__init__(comms, worker, max_value_bytes, AssetScope(asset.name), keyring)
        self._scope = AssetNamed(asset.name)
        self.asset = asset

    def __repr__(self) -> str:
        return f"<AssetState {self.asset.name!r}>"

    def _describe(self) -> str:
        return f"asset {self.asset.name!r} state"


class AssetStates:
    """``context["asset_state"]``: the state of each asset the task declares.

    Look one up by its :class:`Asset` or its name (or uri). A task that declares exactly one
    asset may call ``get``/``set``/``delete``/``clear`` (and the async twins) on this object
    directly; so it is not a ``Mapping``, whose ``get`` would mean something else.
    """

    def __init__(self, states: list[AssetState], *, task_id: str) -> None:
        self._states = {state.asset.name: state for state in states}
        self._by_uri = {state.asset.uri: state for state in states}
        self._task_id = task_id

    def __getitem__(self, asset: Asset | str) -> AssetState:
        name = asset.name if isinstance(asset, Asset) else asset
        state = self._states.get(name) if isinstance(name, str) else None
        if state is None and isinstance(asset, str):
            state = self._by_uri.get(asset)
        if state is None:
            declared = ", ".join(repr(n) for n in self._states) or "none"
            raise UndeclaredAssetError(
                f"task {self._task_id!r} does not declare asset {name!r} (declared: {declared}); "
                "add it to the task's inlets or outlets",
                detail={"asset": name if isinstance(name, str) else repr(name)},
            )
        return state

    def __iter__(self) -> Iterator[str]:
        return iter(self._states)

    def __len__(self) -> int:
        return len(self._states)

    def __contains__(self, asset: object) -> bool:
        if isinstance(asset, Asset):
            return asset.name in self._states
        return asset in self._states or asset in self._by_uri

    def _only(self) -> AssetState:
        if len(self._states) != 1:
            raise UndeclaredAssetError(
                f"task {self._task_id!r} declares {len(self._states)} assets; choose one with "
                'context["asset_state"][asset]',
                detail={"declared": list(self._states)},
            )
        return next(iter(self._states.values()))

    def get(self, key: str, default: JSONValue | None = None) -> JSONValue | None:
        return self._only().get(key, default)

    def get_entry(self, key: str) -> Entry | None:
        return self._only().get_entry(key)

    def set(
        self,
        key: str,
        value: JSONValue,
        *,
        retention: Retention = None,
        if_version: int | None = None,
    ) -> int:
        return self._only().set(key, value, retention=retention, if_version=if_version)

    def update(self, key: str, fn: Callable[[Any], JSONValue], **options: Any) -> JSONValue:
        """:meth:`StateAccessor.update` of the one asset (``default``, ``retries``, ...)."""
        return self._only().update(key, fn, **options)

    def delete(self, key: str, *, if_version: int | None = None) -> None:
        self._only().delete(key, if_version=if_version)

    def clear(self) -> None:
        self._only().clear()

    async def aget(self, key: str, default: JSONValue | None = None) -> JSONValue | None:
        return await self._only().aget(key, default)

    async def aget_entry(self, key: str) -> Entry | None:
        return await self._only().aget_entry(key)

    async def aset(
        self,
        key: str,
        value: JSONValue,
        *,
        retention: Retention = None,
        if_version: int | None = None,
    ) -> int:
        return await self._only().aset(key, value, retention=retention, if_version=if_version)

    async def aupdate(self, key: str, fn: Callable[[Any], JSONValue], **options: Any) -> JSONValue:
        return await self._only().aupdate(key, fn, **options)

    async def adelete(self, key: str, *, if_version: int | None = None) -> None:
        await self._only().adelete(key, if_version=if_version)

    async def aclear(self) -> None:
        await self._only().aclear()
