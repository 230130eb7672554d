"""Worker backends written against Apache Airflow 3.3.2's hooks, and how a backend is told apart.

Airflow 3.3.2 released worker-side state under other names than the seed's. Its base class is
``BaseStoreBackend`` and its four worker hooks are::

    serialize_task_state_store_to_ref(*, value, key, scope)    -> reference (str)
    deserialize_task_state_store_from_ref(stored)              -> the value
    serialize_asset_state_store_to_ref(*, value, key, scope)   -> reference (str)
    deserialize_asset_state_store_from_ref(stored)             -> the value

They differ from taskstate's six hooks (:class:`~taskstate.state.BaseStateBackend`) in what they
exchange: the value itself, not its JSON text; a scope (``TaskScope`` or ``AssetScope``), not a
task instance id or an asset name. And Airflow has no purge hooks: it removes a backend's objects
by calling the backend's own ``delete(scope, key)`` and ``clear(scope)`` after the rows are gone,
which is why its references must be a function of scope and key alone.

A backend implements one set of hooks or the other; :func:`implemented_hooks` tells which.
``taskstate.runtime.worker_backend`` calls them, and refuses a class that implements both: the
two sets take different arguments and purge differently, so no order of precedence would be
safe to guess.
"""

from __future__ import annotations

from typing import Literal, TypeAlias

from taskstate.state.backend import BaseStateBackend
from taskstate.state.codec import decode_value, encode_value
from taskstate.state.types import AssetScope, JSONValue, StateScope, TaskScope

__all__ = [
    "AIRFLOW_HOOKS",
    "TASKSTATE_HOOKS",
    "BaseStoreBackend",
    "HookStyle",
    "StoreScope",
    "implemented_hooks",
]

StoreScope: TypeAlias = StateScope
"""Airflow's name for the union of the two scopes."""

HookStyle: TypeAlias = Literal["taskstate", "airflow"]
"""Which set of worker hooks a backend implements."""

TASKSTATE_HOOKS = (
    "serialize_task_state_value",
    "deserialize_task_state_value",
    "serialize_asset_state_value",
    "deserialize_asset_state_value",
    "purge_task_state",
    "purge_asset_state",
)
"""The seed's six hooks, declared by :class:`~taskstate.state.BaseStateBackend`."""

AIRFLOW_HOOKS = (
    "serialize_task_state_store_to_ref",
    "deserialize_task_state_store_from_ref",
    "serialize_asset_state_store_to_ref",
    "deserialize_asset_state_store_from_ref",
)
"""Airflow 3.3.2's four hooks, declared by :class:`BaseStoreBackend`."""


class BaseStoreBackend(BaseStateBackend):
    """Airflow 3.3.2's base class name, for worker backends written against its hooks.

    A backend file written for Airflow runs with its import line changed to
    ``from taskstate.sdk import AssetScope, BaseStoreBackend, TaskScope``. As in Airflow:

    * ``serialize_*_to_ref`` receives the value (any JSON value but None), the key and the
      scope, stores the value and returns the reference to keep in the database. Returning
      None keeps the value inline: it is stored in the database like any value, within
      ``[state_store] max_value_bytes``, and ``deserialize_*`` never sees it.
    * ``deserialize_*_from_ref`` receives exactly a reference its twin returned and returns the
      value. Returning None means the object is gone: the read raises
      :class:`~taskstate.errors.ReferenceResolutionError`.
    * The objects are removed by ``delete(scope, key)``, called once for each reference that a
      ``delete``, a ``clear``, or ``taskstate state purge`` removed. Make references a function
      of scope and key alone, and make ``delete`` a no-op for a key with no object. taskstate
      never calls ``clear``, ``adelete`` or ``aclear`` on a worker backend: clearing a whole
      prefix would also remove an object whose key another task has just set again.
    * ``get``, ``set`` and the async twins are the server-side part; a worker backend may raise
      ``NotImplementedError`` from them. ``cleanup`` is never called: retention is the API
      server's business.

    A serialize hook left at its default keeps values inline (Airflow's default stores the
    JSON text as the "reference", which is the value inline in all but name); the defaults
    here return what Airflow's return, for a subclass that calls ``super()``.

    The scopes are taskstate's own: :class:`~taskstate.state.TaskScope` has Airflow's four
    fields; :class:`~taskstate.state.AssetScope` names the asset by ``name``, and its ``uri``
    and ``asset_id`` are None, as on an Airflow worker for an asset declared by name.
    """

    def cleanup(self) -> None:
        """Airflow's retention hook; taskstate never calls it."""

    def serialize_task_state_store_to_ref(
        self, *, value: JSONValue, key: str, scope: TaskScope
    ) -> str | None:
        """Store ``value`` externally; return its reference, or None to keep it inline."""
        return encode_value(value, max_bytes=0).decode()

    def deserialize_task_state_store_from_ref(self, stored: str) -> JSONValue | None:
        """The value the reference ``stored`` names; None if its object is gone."""
        return decode_value(stored)

    def serialize_asset_state_store_to_ref(
        self, *, value: JSONValue, key: str, scope: AssetScope
    ) -> str | None:
        """Store ``value`` externally; return its reference, or None to keep it inline."""
        return encode_value(value, max_bytes=0).decode()

    def deserialize_asset_state_store_from_ref(self, stored: str) -> JSONValue | None:
        """The value the reference ``stored`` names; None if its object is gone."""
        return decode_value(stored)


_BASES = (BaseStateBackend, BaseStoreBackend)


def implemented_hooks(cls: type, names: tuple[str, ...]) -> list[str]:
    """Those of ``names`` that ``cls`` implements: it has them, and not as the two base
    classes define them (those are only defaults)."""
    defaults = {id(vars(base)[name]) for base in _BASES for name in names if name in vars(base)}
    found = []
    for name in names:
        owner = next((klass for klass in cls.__mro__ if name in vars(klass)), None)
        if owner is not None and id(vars(owner)[name]) not in defaults:
            found.append(name)
    return found
