"""Bodies of the execution API, as msgspec structs shared by the server and its client.

The execution routes are the hot path, so their bodies are decoded and encoded with msgspec,
and a JSON value passes through as its raw text (``msgspec.Raw``), never parsed and re-encoded
on the way to the database.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from taskstate.contracts.types import AssetInfo, DagRunInfo, TaskInstanceInfo

__all__ = [
    "AssetEventBody",
    "AssetEventsBody",
    "FinishRequest",
    "FinishResponse",
    "HeartbeatResponse",
    "OutputBody",
    "PurgedBody",
    "RecordAssetEventsBody",
    "RecordedAssetEvent",
    "RefBody",
    "RemovedRefsBody",
    "StartRequest",
    "StartResponse",
    "StateBody",
    "XComValuesBody",
]


class StateBody(msgspec.Struct, omit_defaults=True):
    """One key's content: ``value`` (inline JSON), or ``ref`` with the ``backend`` that wrote it.

    In a GET answer, all three are absent when the key is missing. ``value`` is UNSET rather
    than None when absent, so that an explicit JSON ``null`` arrives (and is refused) as a value.

    A PUT or DELETE names the version it expects with ``If-Match: "<version>"`` (or
    ``If-None-Match: *``: the key must not exist); a PUT answers 204 with the new version as its
    ``ETag``.

    In a PUT, ``retention`` is how long the key stays visible: seconds, or ``"never"``; absent
    (as every client before retention sends it), the server's default. It is left untyped here
    so that a bad one is refused by the retention check, with its own error, not as a malformed
    body.
    """

    value: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    ref: str | None = None
    backend: str | None = None
    encryption: str | None = None
    """The id of the key the value is encrypted with (by the task process); None: plain."""
    retention: Any = None
    version: int = 0
    """In an answer: the key's version (0 for a backend without versions)."""
    expires_at: str | None = None
    """In an answer: when the key expires (ISO 8601), None if never."""
    written_by: str | None = None
    """In an answer: who wrote the key last, as JSON text (see ``taskstate.state.provenance``)."""
    restored_after: int = 0
    """In a PUT of a ref: the newest purge (its number) finished before the object was stored;
    see ``taskstate.api.purge``."""
    claim: str | None = None
    """In a DELETE answer holding a ref: the claim under which the caller purges its object."""


class RefBody(msgspec.Struct):
    ref: str
    backend: str


class RemovedRefsBody(msgspec.Struct, omit_defaults=True):
    """What a clear removed that names an external object."""

    refs: list[RefBody]
    claim: str | None = None
    """The claim under which the caller purges these objects, then reports them purged (only
    the references the claim covers are listed)."""


class PurgedBody(msgspec.Struct):
    """A claim's objects are purged: the number of the newest purge now finished."""

    purged_through: int = 0


class StartRequest(msgspec.Struct):
    pid: int
    hostname: str


class StartResponse(msgspec.Struct):
    ti: TaskInstanceInfo
    assets: list[AssetInfo]
    max_value_bytes: int
    dag_run: DagRunInfo[msgspec.Raw]
    """The run, ``conf`` passed through as the JSON text of an object."""


class FinishRequest(msgspec.Struct, omit_defaults=True):
    """How the try ended. ``skipped`` ends it skipped (the task skipped itself); ``failed``
    with ``retry`` false ends it failed even when retries are left."""

    state: Literal["success", "failed", "skipped"]
    reason: str | None = None
    retry: bool = True


class FinishResponse(msgspec.Struct):
    """The state the task instance ended in: success, skipped, failed, or up_for_retry."""

    state: str


class HeartbeatResponse(msgspec.Struct):
    """A fresh token for the same task instance, replacing the one about to expire."""

    token: str
    state: str


class OutputBody(msgspec.Struct, omit_defaults=True):
    """A task's output: its JSON text, passed through raw; absent when the task returned None."""

    value: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET


class XComValuesBody(msgspec.Struct):
    """XCom values as JSON texts, passed through raw; ``null`` where there is none."""

    values: list[msgspec.Raw] = msgspec.field(default_factory=list)


class RecordedAssetEvent(msgspec.Struct, omit_defaults=True):
    """An event a try records on an asset it declares as an outlet; ``extra`` a JSON object.
    Added through an ``alias`` the task declares as an outlet, it names the asset by name and
    ``uri`` and may be on any asset, which is registered if it is new."""

    asset: str
    extra: msgspec.Raw = msgspec.field(default_factory=lambda: msgspec.Raw(b"{}"))
    uri: str | None = None
    alias: str | None = None


class RecordAssetEventsBody(msgspec.Struct):
    events: list[RecordedAssetEvent]


class AssetEventBody(msgspec.Struct):
    """A recorded asset event, as the execution API answers it."""

    id: int
    asset: AssetInfo
    extra: msgspec.Raw
    source_dag_id: str | None
    source_run_id: str | None
    source_task_id: str | None
    source_map_index: int
    timestamp: str


class AssetEventsBody(msgspec.Struct):
    events: list[AssetEventBody]
