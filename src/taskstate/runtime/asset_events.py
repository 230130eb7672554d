"""Asset events in the task process: ``outlet_events``, ``yield Metadata(...)``, ``inlet_events``.

A try that succeeds records one event on each asset its task declares as an outlet, with the
``extra`` the task gave it (``{}`` when none), as Airflow 3 does:

* ``context["outlet_events"][asset].extra["k"] = v`` (or ``.extra = {...}``), the asset named
  by an ``Asset`` or by its name;
* ``yield Metadata(asset, extra={...})`` from the task function (the SDK drains the generator,
  :mod:`taskstate.sdk.callables`, merging each extra into ``outlet_events``);
* ``outlet_events[AssetAlias(...)].add(asset, extra={...})`` records one more event on
  ``asset`` through an alias the task declares as an outlet. As in Airflow, the asset need not
  be declared anywhere: the server registers it when the event is recorded.

:func:`record_asset_events` sends them all, once, when the task has succeeded. The server stores
them only while the try runs and only on the task's outlets.

``context["inlet_events"][asset]`` is the list of the events of an asset the task declares
(inlet or outlet), oldest first, fetched from the server when first read; ``[-1]`` is the
newest. Each is an :class:`AssetEvent` with ``extra``, ``timestamp`` and its source.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Self, overload

from taskstate.contracts.frames import (
    AssetEventInfo,
    GetAssetEvents,
    RecordAssetEvents,
)
from taskstate.contracts.types import AssetInfo, TaskInstanceInfo
from taskstate.errors import InvalidValueError, UndeclaredAssetError, UsageError
from taskstate.runtime.comms import SupervisorComms
from taskstate.sdk.asset import Asset, AssetAlias
from taskstate.state.codec import decode_value, encode_value

__all__ = [
    "AssetEvent",
    "InletEventsAccessor",
    "InletEventsAccessors",
    "OutletEventAccessor",
    "OutletEventAccessors",
    "event_accessors",
    "record_asset_events",
]

logger = logging.getLogger(__name__)


class _Declared:
    """The assets a task declares, found by ``Asset``, name, or name or uri reference."""

    def __init__(
        self, assets: Sequence[AssetInfo], task_id: str, aliases: Iterable[str] = ()
    ) -> None:
        self.assets = {a.name: a for a in assets}
        self.task_id = task_id
        self.aliases = frozenset(aliases)

    def named(self, key: object) -> tuple[str, str]:
        """The name and uri of the asset ``key``: an ``Asset`` as given, else a declared one."""
        name, uri = getattr(key, "name", None), getattr(key, "uri", None)
        if isinstance(name, str) and isinstance(uri, str) and name and uri:
            return name, uri
        found = self.find(key, role="any")
        return found.name, found.uri

    def find(self, key: object, *, role: str) -> AssetInfo:
        """The declared asset ``key`` names; ``role``: ``outlet``, or ``any`` for either."""
        name: str | None
        uri: str | None
        if isinstance(key, str):
            name, uri = key, None
        else:
            name, uri = getattr(key, "name", None), getattr(key, "uri", None)
            if not isinstance(name, str | None) or not isinstance(uri, str | None):
                name = uri = None
            if name is None and uri is None:
                raise UsageError(
                    f"an asset is named by an Asset or its name, not {type(key).__name__}"
                )
        if not name:
            found = next((a for a in self.assets.values() if a.uri == uri), None)
        else:
            found = self.assets.get(name)
            if found is not None and uri and uri != found.uri:
                found = None
        if found is None or (role == "outlet" and not found.outlet):
            what = "an outlet" if role == "outlet" else "an inlet or outlet"
            shown = name or uri
            raise UndeclaredAssetError(
                f"task {self.task_id!r} does not declare asset {shown!r} as {what}",
                detail={"asset": shown},
            )
        return found


class OutletEventAccessor:
    """``outlet_events[asset]``: the ``extra`` of the event the try records on the asset; or,
    for an ``AssetAlias``, the events :meth:`add` records through it."""

    def __init__(self, declared: _Declared, *, alias: str | None = None) -> None:
        self._declared = declared
        self._alias = alias
        self.extra: dict[str, Any] = {}
        self.alias_events: list[tuple[str, str, dict[str, Any]]] = []

    def add(self, asset: Any, extra: Mapping[str, Any] | None = None) -> None:
        """Through an alias the task declares as an outlet: record one more event on
        ``asset`` (an ``Asset``, or the name of one the task declares). On an asset's own
        accessor this does nothing, as in Airflow."""
        if self._alias is None:
            return
        if self._alias not in self._declared.aliases:
            raise UndeclaredAssetError(
                f"task {self._declared.task_id!r} does not declare asset alias "
                f"{self._alias!r} as an outlet; events can be added only through the aliases "
                "it declares",
                detail={"alias": self._alias},
            )
        name, uri = self._declared.named(asset)
        self.alias_events.append((name, uri, dict(extra or {})))


class OutletEventAccessors(Mapping[Any, OutletEventAccessor]):
    """``context["outlet_events"]``: an accessor per asset (or alias), made when first used."""

    def __init__(self, declared: _Declared) -> None:
        self._declared = declared
        self._accessors: dict[str, OutletEventAccessor] = {}
        self._keys: dict[str, Any] = {}

    def __getitem__(self, key: Any) -> OutletEventAccessor:
        if isinstance(key, AssetAlias):
            slot = "alias:" + str(key.name)
            accessor = OutletEventAccessor(self._declared, alias=str(key.name))
        else:
            name = self._declared.find(key, role="outlet").name
            slot, accessor = name, OutletEventAccessor(self._declared)
            key = Asset(name=name, uri=self._declared.assets[name].uri)
        if slot not in self._accessors:
            self._accessors[slot] = accessor
            self._keys[slot] = key
        return self._accessors[slot]

    def __iter__(self) -> Iterator[Any]:
        return iter(list(self._keys.values()))

    def __len__(self) -> int:
        return len(self._accessors)

    def events(self, *, max_bytes: int) -> list[tuple[str, bytes]]:
        """What a successful try records first: one event per declared outlet; each extra as
        JSON text, checked like a state value."""
        found: list[tuple[str, dict[str, Any]]] = []
        for name, asset in self._declared.assets.items():
            if asset.outlet:
                accessor = self._accessors.get(name)
                found.append((name, {} if accessor is None else accessor.extra))
        return [(name, _encode_extra(name, extra, max_bytes)) for name, extra in found]

    def alias_events(self, *, max_bytes: int) -> list[tuple[str, str, str, bytes]]:
        """Then the events added through aliases, in the order added: (alias, asset name,
        asset uri, extra as JSON text)."""
        return [
            (slot.removeprefix("alias:"), name, uri, _encode_extra(name, extra, max_bytes))
            for slot, accessor in self._accessors.items()
            if slot.startswith("alias:")
            for name, uri, extra in accessor.alias_events
        ]


def _encode_extra(asset: str, extra: Any, max_bytes: int) -> bytes:
    if not isinstance(extra, Mapping):
        raise InvalidValueError(
            f"the extra of the event on asset {asset!r} must be a dict, not {type(extra).__name__}",
            detail={"asset": asset},
        )
    return encode_value(dict(extra), max_bytes=max_bytes)


def record_asset_events(
    comms: SupervisorComms, outlet_events: OutletEventAccessors, *, max_bytes: int
) -> None:
    """Send the events of a try that succeeded (nothing when the task has no outlets)."""
    events = outlet_events.events(max_bytes=max_bytes)
    alias_events = outlet_events.alias_events(max_bytes=max_bytes)
    if events or alias_events:
        comms.send(RecordAssetEvents(events=events, alias_events=alias_events))


@dataclass(frozen=True, slots=True)
class AssetEvent:
    """One recorded event of an asset, as ``inlet_events[asset]`` lists it."""

    id: int
    asset: Asset
    extra: dict[str, Any]
    timestamp: datetime
    source_dag_id: str | None
    source_run_id: str | None
    source_task_id: str | None
    source_map_index: int

    @classmethod
    def from_info(cls, info: AssetEventInfo) -> AssetEvent:
        extra = decode_value(info.extra)
        return cls(
            id=info.id,
            asset=Asset(name=info.asset, uri=info.uri),
            extra=extra if isinstance(extra, dict) else {},
            timestamp=datetime.fromisoformat(info.timestamp),
            source_dag_id=info.source_dag_id,
            source_run_id=info.source_run_id,
            source_task_id=info.source_task_id,
            source_map_index=info.source_map_index,
        )


class InletEventsAccessor(Sequence[AssetEvent]):
    """The events of one asset, fetched when first read. ``after``, ``before`` (ISO 8601),
    ``ascending`` and ``limit`` narrow them, as in Airflow, and return the accessor."""

    def __init__(self, comms: SupervisorComms, asset: str) -> None:
        self._comms = comms
        self._asset = asset
        self._query: dict[str, Any] = {"ascending": True}
        self._events: list[AssetEvent] | None = None

    def _narrow(self, **query: Any) -> Self:
        self._query.update(query)
        self._events = None
        return self

    def after(self, after: str | datetime) -> Self:
        return self._narrow(after=_iso(after))

    def before(self, before: str | datetime) -> Self:
        return self._narrow(before=_iso(before))

    def ascending(self, ascending: bool = True) -> Self:
        return self._narrow(ascending=ascending)

    def limit(self, limit: int) -> Self:
        return self._narrow(limit=limit)

    @property
    def events(self) -> list[AssetEvent]:
        if self._events is None:
            reply = self._comms.send(GetAssetEvents(asset_name=self._asset, **self._query))
            self._events = [AssetEvent.from_info(info) for info in reply.events]
        return self._events

    @overload
    def __getitem__(self, index: int) -> AssetEvent: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[AssetEvent]: ...

    def __getitem__(self, index: int | slice) -> AssetEvent | Sequence[AssetEvent]:
        return self.events[index]

    def __len__(self) -> int:
        return len(self.events)

    def __iter__(self) -> Iterator[AssetEvent]:
        return iter(self.events)

    def __repr__(self) -> str:
        return f"<InletEventsAccessor {self._asset!r}>"


def _iso(moment: str | datetime) -> str:
    return moment.isoformat() if isinstance(moment, datetime) else moment


class InletEventsAccessors(Mapping[Any, InletEventsAccessor]):
    """``context["inlet_events"]``: the events of each asset the task declares, by ``Asset``,
    name, or position among its inlets."""

    def __init__(self, comms: SupervisorComms, declared: _Declared) -> None:
        self._comms = comms
        self._declared = declared
        self._inlets = [a for a in declared.assets.values() if a.inlet]

    def __getitem__(self, key: Any) -> InletEventsAccessor:
        if isinstance(key, int) and not isinstance(key, bool):
            name = self._inlets[key].name
        elif isinstance(key, AssetAlias):
            raise UsageError(
                f"taskstate does not read events through an asset alias ({key.name!r}); "
                "declare the asset itself as an inlet and read inlet_events[asset]"
            )
        else:
            name = self._declared.find(key, role="any").name
        return InletEventsAccessor(self._comms, name)

    def __contains__(self, key: object) -> bool:
        try:
            self[key]
        except (UsageError, IndexError):
            return False
        return True

    def __iter__(self) -> Iterator[Asset]:
        return iter([Asset(name=a.name, uri=a.uri) for a in self._inlets])

    def __len__(self) -> int:
        return len(self._inlets)

    def for_asset(self, *, name: str | None = None, uri: str | None = None) -> InletEventsAccessor:
        """The events of the declared asset with this name or uri."""
        if name is None and uri is None:
            raise UsageError("name the asset with name= or uri=")
        return self[_Ref(name, uri)]

    def for_asset_alias(self, *, name: str) -> InletEventsAccessor:
        raise UsageError(
            f"taskstate does not read events through an asset alias ({name!r}); declare the "
            "asset itself as an inlet and read inlet_events[asset]"
        )


@dataclass(frozen=True)
class _Ref:
    name: str | None
    uri: str | None


def event_accessors(
    comms: SupervisorComms,
    ti_info: TaskInstanceInfo,
    assets: Sequence[AssetInfo],
    outlet_aliases: Iterable[str] = (),
) -> tuple[OutletEventAccessors, InletEventsAccessors]:
    """``context["outlet_events"]`` and ``context["inlet_events"]`` of a task instance whose
    task declares ``assets`` (``StartTask.assets``, which say which are inlets and outlets)
    and the asset aliases ``outlet_aliases`` as outlets."""
    declared = _Declared(assets, ti_info.task_id, outlet_aliases)
    return OutletEventAccessors(declared), InletEventsAccessors(comms, declared)
