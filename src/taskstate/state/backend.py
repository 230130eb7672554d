"""``BaseStateBackend``: the one interface of every state backend.

A backend plays one of two parts, and may play both:

* **server side** (``[state_store] backend``), inside the API server: it keeps what is stored for
  each key, through ``get``/``set``/``delete``/``clear`` and their async twins. What it keeps is a
  :class:`StoredValue`: the JSON text of the value, or a reference marked as one.
* **worker side** (``[workers] state_backend``), inside the task process: the six hooks below.
  ``serialize_*`` stores a value in the worker's own storage and returns a reference string;
  ``deserialize_*`` turns a reference back into the value's JSON text; ``purge_*`` removes the
  object a reference names. The API server only ever sees the reference.

The hooks have no-op defaults, so a server-side backend needs none of them, and a worker-side
backend implements only the hooks (its server-side methods may raise ``NotImplementedError``).

**Retention.** A :class:`StoredValue` given to ``set`` may carry ``expires_at``. From that
moment every read (``get``, ``list_entries``) acts as if the key were gone, before any clean-up
has run; ``set`` over an expired key replaces it; ``delete`` and ``clear`` still remove and
return expired rows (their objects must be purged), and ``find_refs`` still counts them, so no
object that a row names is purged. ``delete_expired`` removes expired rows in batches for the
API server's clean-up, which queues their references for purging.

**Versions** (``supports_versions``). A backend that keeps them assigns each write a version in
the statement that writes (see :class:`StoredValue`), returns it from ``set``, and honours
``if_version`` on ``set`` and ``delete``: the write applies only if the key is at that version
(0: only if the key does not exist), else :class:`~taskstate.errors.VersionConflictError` with
the version found. A backend without versions is given no ``if_version``: the API server
refuses it first (:class:`~taskstate.errors.VersionsNotSupportedError`).

**Fencing** (``supports_fencing``). Given a ``fence``, a backend that fences applies a write only
while the fence's try is the running try of its task instance, checked in the same statement,
else :class:`~taskstate.errors.StaleTryError`. A backend that keeps its state beside the
metadata database learns the tries through :meth:`BaseStateBackend.record_try`. The API server
checks the try itself, in a statement of its own, for a backend that does not fence.

**Purges** (``queues_purges``). A backend beside the purge queue queues the references it
replaces or removes in the same transaction, and refuses a ``set`` of a reference that a purge
holds, or removed later than ``restored_after``, with
:class:`~taskstate.errors.PurgePendingError`, in the statement that writes.
"""

from __future__ import annotations

import abc
import enum
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, ClassVar, Protocol, runtime_checkable

from taskstate.state.types import ExpiredBatch, StateEntry, StateScope, StoredValue, TryPhase

__all__ = ["BaseStateBackend", "ClaimAnswer", "ListableBackend", "can_expire"]


class ClaimAnswer(enum.IntEnum):
    """What a backend that guards purges answers, per reference, to a claim."""

    LIVE = 0
    """A value names the reference: its object is in use, the queue entry is superseded."""
    GRANTED = 1
    """The claim holds the reference: no set of it applies until the claim is released."""
    HELD = 2
    """Another purger's claim holds it."""


class BaseStateBackend(abc.ABC):
    """Base class of server-side and worker-side state backends."""

    supports_versions: ClassVar[bool] = False
    """Whether ``set`` and ``delete`` take ``if_version`` and ``set`` returns the version."""
    supports_fencing: ClassVar[bool] = False
    """Whether ``set``, ``delete`` and ``clear`` take a ``fence`` and check it themselves."""
    queues_purges: ClassVar[bool] = False
    """Whether the backend queues every reference it replaces or removes in the purge queue,
    in the writing transaction, and guards a ``set`` of a reference against purges (it takes
    ``restored_after``; see :mod:`taskstate.api.purge`). For a backend that does not, the API
    server queues what ``delete`` and ``clear`` return."""
    guards_purges: ClassVar[bool] = False
    """Whether a ``set`` of a reference is refused while a purge holds it, or after a purge
    numbered above the writer's ``restored_after`` (it takes ``restored_after``). A backend
    beside the purge queue does so in its writing statement; one outside the database (Redis)
    keeps its own claims and purge numbers (``claim_purges`` and ``release_purges``, and
    their async twins), which the API server takes before and after the queue's."""

    # -- server side: what is stored for each key -------------------------------------------

    @abc.abstractmethod
    def get(self, scope: StateScope, key: str, *, session: Any = None) -> StoredValue | None:
        """What is stored for ``key`` in ``scope``, or None."""

    @abc.abstractmethod
    def set(
        self, scope: StateScope, key: str, value: StoredValue, *, session: Any = None
    ) -> int | None:
        """Store ``value`` for ``key``, replacing what was there; the version it got, or None
        (a backend without versions)."""

    @abc.abstractmethod
    def delete(self, scope: StateScope, key: str, *, session: Any = None) -> StoredValue | None:
        """Remove ``key``; return what was stored (so a reference can be purged), or None."""

    @abc.abstractmethod
    def clear(
        self, scope: StateScope, *, all_map_indices: bool = False, session: Any = None
    ) -> list[StoredValue]:
        """Remove every key of ``scope``; return the references among the removed values.

        With ``all_map_indices``, a task scope is cleared for every map index of its task.
        """

    @abc.abstractmethod
    async def aget(self, scope: StateScope, key: str, *, session: Any = None) -> StoredValue | None:
        """Async twin of :meth:`get`."""

    @abc.abstractmethod
    async def aset(
        self, scope: StateScope, key: str, value: StoredValue, *, session: Any = None
    ) -> int | None:
        """Async twin of :meth:`set`."""

    @abc.abstractmethod
    async def adelete(
        self, scope: StateScope, key: str, *, session: Any = None
    ) -> StoredValue | None:
        """Async twin of :meth:`delete`."""

    @abc.abstractmethod
    async def aclear(
        self, scope: StateScope, *, all_map_indices: bool = False, session: Any = None
    ) -> list[StoredValue]:
        """Async twin of :meth:`clear`."""

    def list_entries(self, scope: StateScope, *, session: Any = None) -> list[StateEntry]:
        """Every key of ``scope`` with what is stored for it, ordered by key.

        Used by the public API and the CLI; a backend that cannot enumerate its keys keeps
        this default.
        """
        raise NotImplementedError(f"{type(self).__name__} cannot list its keys")

    async def alist_entries(self, scope: StateScope, *, session: Any = None) -> list[StateEntry]:
        """Async twin of :meth:`list_entries`."""
        return self.list_entries(scope, session=session)

    def find_refs(self, ref_backend: str, refs: Sequence[str]) -> frozenset[str]:
        """Which of ``refs`` are stored, as references written by ``ref_backend``, in any scope.

        Expired rows that the clean-up has not removed yet count: they still name their object,
        which the clean-up queues for purging when it removes them.

        ``taskstate state purge`` asks before it removes an object, because references are
        often deterministic: a key deleted and then set again names the same object, which must
        then stay. A backend that cannot answer keeps this default; purging then refuses
        ``--orphans`` and drains the queue without the check.
        """
        raise NotImplementedError(f"{type(self).__name__} cannot look up references")

    async def afind_refs(self, ref_backend: str, refs: Sequence[str]) -> frozenset[str]:
        """Async twin of :meth:`find_refs`."""
        return self.find_refs(ref_backend, refs)

    def delete_expired(self, *, now: datetime, limit: int, session: Any = None) -> ExpiredBatch:
        """Remove up to ``limit`` keys, of any scope, that expired at or before ``now``.

        Older expiries go first (a backend may take task keys and asset keys in turn). Several
        API servers may call it at once: each removed row must be counted, and its reference
        returned, by exactly one call. A backend that keeps this default cannot expire keys
        (:func:`can_expire`): the API server then refuses retentions instead of storing them,
        and the clean-up says it has nothing to do.
        """
        raise NotImplementedError(f"{type(self).__name__} cannot remove expired keys")

    async def adelete_expired(
        self, *, now: datetime, limit: int, session: Any = None
    ) -> ExpiredBatch:
        """Async twin of :meth:`delete_expired`."""
        return self.delete_expired(now=now, limit=limit, session=session)

    def count_expired(self, *, now: datetime, session: Any = None) -> int:
        """How many keys expired at or before ``now`` and wait for :meth:`delete_expired`."""
        raise NotImplementedError(f"{type(self).__name__} cannot count expired keys")

    async def acount_expired(self, *, now: datetime, session: Any = None) -> int:
        """Async twin of :meth:`count_expired`."""
        return self.count_expired(now=now, session=session)

    def record_try(self, ti_id: str, try_number: int, phase: TryPhase) -> None:  # noqa: B027
        """Learn that try ``try_number`` of ``ti_id`` is ``phase`` now; a backend that fences
        from state of its own keeps it (an earlier try or an earlier phase never overrides a
        later one). The default does nothing: the metastore reads the task instance's row."""

    async def arecord_try(self, ti_id: str, try_number: int, phase: TryPhase) -> None:
        """Async twin of :meth:`record_try`."""
        self.record_try(ti_id, try_number, phase)

    def close(self) -> None:  # noqa: B027 - an optional hook, not an abstract method
        """Release connections; called once when the API server stops."""

    async def aclose(self) -> None:
        """Async twin of :meth:`close`."""
        self.close()

    # -- worker side: the six hooks, called in the task process ----------------------------

    def serialize_task_state_value(self, *, value: str, key: str, ti_id: str) -> str:
        """Store ``value`` (JSON text) externally; return the reference to keep in the database."""
        return value

    def deserialize_task_state_value(self, stored: str) -> str:
        """Return the JSON text that the reference ``stored`` names."""
        return stored

    def serialize_asset_state_value(self, *, value: str, key: str, asset_name: str) -> str:
        """Store ``value`` (JSON text) externally; return the reference to keep in the database."""
        return value

    def deserialize_asset_state_value(self, stored: str) -> str:
        """Return the JSON text that the reference ``stored`` names."""
        return stored

    def purge_task_state(self, stored: str) -> None:  # noqa: B027 - a no-op default hook
        """Remove the object that the reference ``stored`` names."""

    def purge_asset_state(self, stored: str) -> None:  # noqa: B027 - a no-op default hook
        """Remove the object that the reference ``stored`` names."""


@runtime_checkable
class ListableBackend(Protocol):
    """A worker-side backend that can list its objects, so that ``purge --orphans`` works.

    A task killed between storing an object and writing its reference leaves an object that no
    reference names; the sweep lists the objects, asks the API server which are named, and
    removes the rest. Objects modified after ``older_than`` are left alone: a task may be about
    to write their reference.
    """

    def iter_objects(self, *, older_than: datetime | None = None) -> Iterator[str]:
        """The URL of every object last modified before ``older_than`` (all if None); the URL
        of a stored value is exactly the reference the backend wrote for it."""
        ...

    def purge_object(self, url: str, *, older_than: datetime | None = None) -> bool:
        """Remove the object at ``url`` if it is still older than ``older_than``; True if
        removed."""
        ...


def can_expire(backend: BaseStateBackend) -> bool:
    """Whether ``backend`` expires keys: it implements :meth:`~BaseStateBackend.delete_expired`
    instead of keeping the interface's default."""
    return type(backend).delete_expired is not BaseStateBackend.delete_expired
