"""Asset events in the task process: ``outlet_events`` and yielded ``Metadata`` become the one
``RecordAssetEvents`` of a successful try; ``inlet_events`` reads events lazily."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import pytest

from taskstate.contracts.frames import (
    AssetEventInfo,
    GetAssetEvents,
    RecordAssetEvents,
)
from taskstate.contracts.types import AssetInfo, TaskInstanceInfo
from taskstate.errors import InvalidValueError, UndeclaredAssetError, UsageError
from taskstate.runtime.asset_events import (
    AssetEvent,
    InletEventsAccessors,
    OutletEventAccessors,
    event_accessors,
    record_asset_events,
)
from taskstate.runtime.comms import SupervisorComms
from taskstate.sdk import Asset, AssetAlias

from .conftest import FrameServer

Served = tuple[SupervisorComms, FrameServer]

TI = TaskInstanceInfo("ti-1", "d", "r", "writer", -1, 1)
LAKE = Asset(name="lake", uri="s3://lake/tables")
REPORT = Asset(name="report", uri="file:///report.csv")
SOURCE = Asset(name="source", uri="s3://lake/source")
ASSETS = [
    AssetInfo(LAKE.name, LAKE.uri, outlet=True),
    AssetInfo(REPORT.name, REPORT.uri, inlet=True, outlet=True),
    AssetInfo(SOURCE.name, SOURCE.uri, inlet=True),
]


@pytest.fixture
def accessors(served: Served) -> tuple[OutletEventAccessors, InletEventsAccessors]:
    return event_accessors(served[0], TI, ASSETS, ["daily"])


def recorded(served: Served, outlets: OutletEventAccessors) -> list[tuple[str, bytes]]:
    comms, server = served
    record_asset_events(comms, outlets, max_bytes=100)
    sent = [r for r in server.requests if isinstance(r, RecordAssetEvents)]
    assert len(sent) == 1
    return sent[0].events


def test_one_event_per_outlet_with_the_extra_the_task_set(
    served: Served, accessors: tuple[OutletEventAccessors, InletEventsAccessors]
) -> None:
    outlets, _ = accessors
    outlets[LAKE].extra["rows"] = 10
    outlets["lake"].extra["by_name"] = True  # the same accessor, by the asset's name
    assert recorded(served, outlets) == [
        ("lake", b'{"rows":10,"by_name":true}'),
        ("report", b"{}"),  # an outlet the task did not touch still gets its event
    ]


def test_the_extra_may_be_replaced_whole(
    served: Served, accessors: tuple[OutletEventAccessors, InletEventsAccessors]
) -> None:
    outlets, _ = accessors
    outlets[REPORT].extra = {"hi": "bye"}
    assert ("report", b'{"hi":"bye"}') in recorded(served, outlets)
    assert list(outlets) == [REPORT]
    assert len(outlets) == 1


@pytest.mark.parametrize(
    ("key", "message"),
    [
        ("source", "does not declare asset 'source' as an outlet"),  # an inlet only
        ("nowhere", "does not declare asset 'nowhere' as an outlet"),
        (Asset(name="lake", uri="s3://elsewhere"), "'lake'"),  # the right name, another uri
    ],
)
def test_an_asset_that_is_not_an_outlet_is_refused(
    accessors: tuple[OutletEventAccessors, InletEventsAccessors], key: Any, message: str
) -> None:
    outlets, _ = accessors
    with pytest.raises(UndeclaredAssetError, match=message):
        outlets[key]


def test_a_declared_alias_adds_events_to_any_asset_after_the_outlets(
    served: Served, accessors: tuple[OutletEventAccessors, InletEventsAccessors]
) -> None:
    comms, server = served
    outlets, _ = accessors
    outlets[AssetAlias("daily")].add(LAKE, extra={"via": "alias"})
    outlets[LAKE].add(REPORT)  # add on an asset's own accessor does nothing, as in Airflow
    outlets[AssetAlias("daily")].add(Asset(name="new", uri="s3://new"))
    outlets[AssetAlias("daily")].add("source")  # a declared asset, by its name
    with pytest.raises(UndeclaredAssetError, match="does not declare asset alias 'other'"):
        outlets[AssetAlias("other")].add(LAKE)
    record_asset_events(comms, outlets, max_bytes=100)
    [sent] = [r for r in server.requests if isinstance(r, RecordAssetEvents)]
    assert sent.events == [("lake", b"{}"), ("report", b"{}")]
    assert sent.alias_events == [
        ("daily", "lake", LAKE.uri, b'{"via":"alias"}'),
        ("daily", "new", "s3://new", b"{}"),
        ("daily", "source", SOURCE.uri, b"{}"),
    ]


@pytest.mark.parametrize(
    ("extra", "message"),
    [([1], "must be a dict, not list"), ({"x": math.nan}, "nan is not a JSON number")],
)
def test_an_extra_that_is_not_a_json_object_is_refused_before_sending(
    served: Served,
    accessors: tuple[OutletEventAccessors, InletEventsAccessors],
    extra: Any,
    message: str,
) -> None:
    comms, server = served
    outlets, _ = accessors
    outlets[LAKE].extra = extra
    with pytest.raises(InvalidValueError, match=message):
        record_asset_events(comms, outlets, max_bytes=100)
    assert server.requests == []


def test_a_task_without_outlets_sends_nothing(served: Served) -> None:
    comms, server = served
    outlets, _ = event_accessors(comms, TI, [AssetInfo("source", "s3://lake/source", inlet=True)])
    record_asset_events(comms, outlets, max_bytes=100)
    assert server.requests == []


def event(n: int, asset: Asset = SOURCE) -> AssetEventInfo:
    return AssetEventInfo(
        id=n,
        asset=asset.name,
        uri=asset.uri,
        extra=b'{"n": %d}' % n,
        source_dag_id="producer",
        source_run_id=f"run_{n}",
        source_task_id="make",
        source_map_index=-1,
        timestamp=f"2026-01-0{n}T00:00:00+00:00",
    )


def test_inlet_events_are_fetched_when_read_oldest_first(
    served: Served, accessors: tuple[OutletEventAccessors, InletEventsAccessors]
) -> None:
    _, server = served
    _, inlets = accessors
    server.events["source"] = [event(1), event(2), event(3)]
    events = inlets[SOURCE]
    assert server.requests == []  # nothing asked yet
    assert [e.extra for e in events] == [{"n": 1}, {"n": 2}, {"n": 3}]
    newest = events[-1]
    assert newest == AssetEvent(
        id=3,
        asset=SOURCE,
        extra={"n": 3},
        timestamp=datetime(2026, 1, 3, tzinfo=UTC),
        source_dag_id="producer",
        source_run_id="run_3",
        source_task_id="make",
        source_map_index=-1,
    )
    assert [e.id for e in events[:-1]] == [1, 2]
    assert len(events) == 3
    assert server.requests == [GetAssetEvents("source")]  # once, then kept


def test_inlet_events_can_be_narrowed(
    served: Served, accessors: tuple[OutletEventAccessors, InletEventsAccessors]
) -> None:
    _, server = served
    _, inlets = accessors
    server.events["source"] = [event(1), event(2), event(3)]
    newest = inlets["source"].ascending(False).limit(2)
    assert [e.id for e in newest] == [3, 2]
    after = datetime(2026, 1, 1, tzinfo=UTC)
    list(inlets[SOURCE].after(after).before("2026-02-01"))
    assert server.requests[-1] == GetAssetEvents(
        "source", after="2026-01-01T00:00:00+00:00", before="2026-02-01"
    )


def test_inlet_events_of_declared_assets_only(
    served: Served, accessors: tuple[OutletEventAccessors, InletEventsAccessors]
) -> None:
    _, server = served
    _, inlets = accessors
    server.events["report"] = [event(1, REPORT)]
    assert [e.asset for e in inlets[REPORT]] == [REPORT]  # an outlet may be read too
    assert [e.id for e in inlets.for_asset(uri=REPORT.uri)] == [1]
    assert len(inlets[0]) == 1  # by position among the inlets: report, source
    with pytest.raises(UndeclaredAssetError, match="as an inlet or outlet"):
        inlets["nowhere"]
    assert "nowhere" not in inlets
    assert SOURCE in inlets
    assert list(inlets) == [REPORT, SOURCE]
    assert len(inlets) == 2
    with pytest.raises(UsageError, match="does not read events through an asset alias"):
        inlets[AssetAlias("daily")]
    with pytest.raises(UsageError, match="does not read events through an asset alias"):
        inlets.for_asset_alias(name="daily")
