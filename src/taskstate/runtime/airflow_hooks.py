"""Calling a worker backend written against Apache Airflow 3.3.2's hooks.

See :class:`taskstate.state.BaseStoreBackend` for the hooks. Two things need bridging:

* **Purging by reference.** Airflow removes a backend's objects with ``delete(scope, key)``,
  but taskstate purges by reference, sometimes long after the task ended (``taskstate state
  purge`` drains references that the API server removed). So the reference kept in the database
  carries the scope and key beside the backend's own reference, as a JSON array::

      ["task", dag_id, run_id, task_id, map_index, key, ref]
      ["asset", asset_name, key, ref]

  It is marked as a reference out of band (``ref_backend``) like any other, and only ever
  unwrapped here. Airflow wraps its references too (in an object under a marker key); the
  hook never sees the wrapping, only ``ref``.
* **Binding.** A reference resolves only in the scope it names: a task reads the references
  of its own scope, never one copied from another.
"""

from __future__ import annotations

from typing import Any

import msgspec

from taskstate.errors import BackendError, ReferenceResolutionError
from taskstate.state.codec import decode_value
from taskstate.state.types import AssetScope, JSONValue, StateKind, StateScope, TaskScope

__all__ = ["purge", "resolve", "store"]


class _TaskRef(msgspec.Struct, array_like=True, frozen=True, tag="task"):
    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    key: str
    ref: str

    @property
    def scope(self) -> TaskScope:
        return TaskScope(self.dag_id, self.run_id, self.task_id, self.map_index)


class _AssetRef(msgspec.Struct, array_like=True, frozen=True, tag="asset"):
    name: str
    key: str
    ref: str

    @property
    def scope(self) -> AssetScope:
        return AssetScope(self.name)


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(_TaskRef | _AssetRef)
_KINDS: dict[StateKind, type[_TaskRef | _AssetRef]] = {"task": _TaskRef, "asset": _AssetRef}
_HOOKS = {
    "task": ("serialize_task_state_store_to_ref", "deserialize_task_state_store_from_ref"),
    "asset": ("serialize_asset_state_store_to_ref", "deserialize_asset_state_store_from_ref"),
}


def _kind(scope: StateScope) -> StateKind:
    return "task" if isinstance(scope, TaskScope) else "asset"


def _wrap(scope: StateScope, key: str, ref: str) -> str:
    if isinstance(scope, TaskScope):
        wrapped: _TaskRef | _AssetRef = _TaskRef(
            scope.dag_id, scope.run_id, scope.task_id, scope.map_index, key, ref
        )
    else:
        wrapped = _AssetRef(scope.name, key, ref)
    return _encoder.encode(wrapped).decode()


def _unwrap(kind: StateKind, stored: str) -> _TaskRef | _AssetRef:
    """The scope, key and backend reference that ``stored`` holds; refuses anything else."""
    try:
        wrapped = _decoder.decode(stored)
    except msgspec.DecodeError as exc:
        raise ReferenceResolutionError(
            f"refusing {kind} state reference {stored!r}: it is not one that taskstate wrote "
            f"for a backend with Airflow's hooks ({exc})",
            detail={"ref": stored},
        ) from exc
    if not isinstance(wrapped, _KINDS[kind]):
        raise ReferenceResolutionError(
            f"refusing {kind} state reference {stored!r}: it was written for {_kind(wrapped.scope)}"
            " state",
            detail={"ref": stored},
        )
    return wrapped


def store(backend: Any, scope: StateScope, key: str, value: JSONValue) -> str | None:
    """Store ``value`` through the serialize hook of ``scope``'s kind: the reference to keep
    (wrapped), or None to keep the value inline."""
    name = _HOOKS[_kind(scope)][0]
    ref = getattr(backend, name)(value=value, key=key, scope=scope)
    if ref is None:
        return None
    if not isinstance(ref, str) or not ref:
        what = "an empty string" if isinstance(ref, str) else type(ref).__name__
        raise BackendError(
            f"{name}() of worker backend {type(backend).__name__} returned {what}; it must "
            "return a non-empty reference string, or None to keep the value inline",
            detail={"hook": name, "returned": type(ref).__name__, "key": key},
        )
    return _wrap(scope, key, ref)


def resolve(backend: Any, scope: StateScope, stored: str) -> object:
    """What the deserialize hook returns for the reference ``stored``, read in ``scope``.

    The result is not checked here: the caller turns None and non-JSON into its errors.
    """
    kind = _kind(scope)
    wrapped = _unwrap(kind, stored)
    if wrapped.scope != scope:
        raise ReferenceResolutionError(
            f"refusing {kind} state reference {stored!r}: it was written for "
            f"{wrapped.scope}, not {scope}",
            detail={"ref": stored, "scope": str(scope)},
        )
    hook = getattr(backend, _HOOKS[kind][1], None)
    if hook is None:  # a class that is not a BaseStoreBackend: Airflow's default hook
        return decode_value(wrapped.ref)
    return hook(wrapped.ref)


def purge(backend: Any, kind: StateKind, stored: str) -> None:
    """Remove the object the reference ``stored`` names: ``delete(scope, key)``, as Airflow
    removes a backend's objects."""
    wrapped = _unwrap(kind, stored)
    try:
        backend.delete(wrapped.scope, wrapped.key)
    except NotImplementedError as exc:
        raise BackendError(
            f"worker backend {type(backend).__name__} implements Airflow's hooks, whose objects "
            f"are removed by delete(scope, key), but its delete() is not implemented; cannot "
            f"purge {stored!r}",
            detail={"ref": stored},
        ) from exc
