"""Which state a state operation is on, as a field of the operation.

A frame from the task process names :class:`OwnTask` (the task instance the process runs) or
:class:`AssetNamed`; the supervisor resolves ``OwnTask`` to the :class:`TaskInstanceId` of its
try before it calls the execution API, whose client takes an :data:`ApiScope`. Each is encoded
as a short tagged array (``["task"]``, ``["asset", "orders"]``), so a scope costs a few bytes
of a frame.
"""

from __future__ import annotations

import msgspec

__all__ = ["ApiScope", "AssetNamed", "FrameScope", "OwnTask", "TaskInstanceId", "resolve"]


class OwnTask(msgspec.Struct, tag="task", array_like=True, frozen=True):
    """The task instance of the process that sends the frame."""


class AssetNamed(msgspec.Struct, tag="asset", array_like=True, frozen=True):
    """An asset, by name; the token must declare it."""

    name: str


class TaskInstanceId(msgspec.Struct, tag="ti", array_like=True, frozen=True):
    """A task instance, by id; the token must be the one of that task instance."""

    id: str


FrameScope = OwnTask | AssetNamed
"""What a frame names: its sender's own task instance, or an asset."""

ApiScope = TaskInstanceId | AssetNamed
"""What an execution API call names."""


def resolve(scope: FrameScope, ti_id: str) -> ApiScope:
    """``scope`` as the execution API names it, for the task process of ``ti_id``."""
    return TaskInstanceId(ti_id) if isinstance(scope, OwnTask) else scope
