"""The shared vocabulary: JSON values, scopes, what a backend stores for a key.

Scopes are small frozen structs, hashable and cheap to build on the hot path.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, TypeAlias

import msgspec

__all__ = [
    "AssetScope",
    "ExpiredBatch",
    "JSONValue",
    "StateEntry",
    "StateKind",
    "StateScope",
    "StoredValue",
    "TaskScope",
    "TryFence",
    "TryPhase",
]

JSONValue: TypeAlias = "str | int | float | bool | list[JSONValue] | dict[str, JSONValue]"
"""A value a task may store: any JSON document but a bare null."""


class TaskScope(msgspec.Struct, frozen=True):
    """State of one task instance: kept across its tries, separate for every map index."""

    dag_id: str
    run_id: str
    task_id: str
    map_index: int = -1

    def __str__(self) -> str:
        suffix = "" if self.map_index < 0 else f"[{self.map_index}]"
        return f"{self.dag_id}/{self.run_id}/{self.task_id}{suffix}"


class AssetScope(msgspec.Struct, frozen=True):
    """State of one asset, shared by every run and task that declares it."""

    name: str

    def __str__(self) -> str:
        return f"asset {self.name}"

    # Airflow 3.3.2's AssetScope also has these; its workers leave them None for an asset named
    # by its name, as taskstate always names one. A backend written for Airflow may read them.
    @property
    def uri(self) -> None:
        """Always None: the asset is named by :attr:`name` (Airflow's ``AssetScope.uri``)."""
        return None

    @property
    def asset_id(self) -> None:
        """Always None: a worker never knows the server's id of an asset (as in Airflow)."""
        return None


StateScope: TypeAlias = TaskScope | AssetScope

StateKind: TypeAlias = Literal["task", "asset"]
"""Which kind of scope a removed reference came from, so the right purge hook removes it."""


class StoredValue(msgspec.Struct, frozen=True, eq=False):
    """What a server-side backend keeps for one key.

    ``data`` is the JSON text of the value, or, when ``ref_backend`` is set, a reference that the
    worker-side backend named by ``ref_backend`` (its class path) wrote. The marker lives beside
    the data, never inside it, so no user value can be mistaken for a reference.

    ``expires_at`` (timezone-aware) is when the key stops being visible, None if never; a read
    never returns a key whose time has come, even before the clean-up removes it.
    ``written_by`` is who wrote it last, as JSON text (see :mod:`taskstate.state.provenance`),
    None if not recorded. A backend stores both as given and returns them from ``get``,
    ``delete`` and ``list_entries``; what ``clear`` and ``delete_expired`` return need only
    ``data`` and ``ref_backend``.

    ``version`` is assigned by the backend's write, never by the caller (which leaves it 0): the
    larger of the old version + 1 and a clock in microseconds, so a key deleted and set again
    never meets an old version. 0 in what a backend without versions returns. Equality compares
    what is stored, not the version a write gave it, as it ignores when the write happened.

    ``encryption`` is the id of the key the value was encrypted with in the task process (the
    data is then a JSON string of ciphertext, or a reference to one), None if it is plain.
    """

    data: str
    ref_backend: str | None = None
    expires_at: datetime | None = None
    written_by: str | None = None
    version: int = 0
    encryption: str | None = None

    @property
    def is_ref(self) -> bool:
        return self.ref_backend is not None

    def _stored(self) -> tuple[object, ...]:
        return (self.data, self.ref_backend, self.expires_at, self.written_by, self.encryption)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StoredValue):
            return NotImplemented
        return self._stored() == other._stored()

    def __hash__(self) -> int:
        return hash(self._stored())


class TryFence(msgspec.Struct, frozen=True):
    """The try a write comes from: the write applies only while it is the running try of its
    task instance (not ended, no later try queued or started)."""

    ti_id: str
    try_number: int


TryPhase: TypeAlias = Literal["queued", "running", "ended"]
"""Where a try is in its life, as a backend that fences writes itself is told."""


class StateEntry(msgspec.Struct, frozen=True):
    """One key of a scope, as listed by a backend."""

    key: str
    stored: StoredValue
    updated_at: datetime


class ExpiredBatch(msgspec.Struct, frozen=True):
    """What one call of ``delete_expired`` removed.

    ``removed`` counts every row removed; ``refs`` holds the references among them, each with
    the kind of scope it came from, so that their objects can be queued for purging.
    """

    removed: int
    refs: list[tuple[StateKind, StoredValue]] = msgspec.field(default_factory=list)
