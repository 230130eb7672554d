"""Asset events over real HTTP: recorded by a running try on its outlets only, kept only when
the try succeeds, read by tasks that declare the asset, and listed on the public API."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx
import msgspec
import pytest

from taskstate.api.keys import client_api_key
from taskstate.api.server import EmbeddedServer
from taskstate.client.execution import ExecutionClient
from taskstate.client.public import PublicClient
from taskstate.errors import (
    ConflictError,
    InvalidValueError,
    PermissionDeniedError,
    UndeclaredAssetError,
    UnknownAssetError,
    ValueTooLargeError,
)

from .conftest import Attached, Run, error_of

Attach = Callable[..., Attached]

LAKE = {"name": "lake", "uri": "s3://lake/tables"}
REPORT = {"name": "report", "uri": "file:///srv/report.csv"}
SOURCE = {"name": "source", "uri": "s3://lake/source"}

TASKS: list[dict[str, Any]] = [
    # writer writes lake and report and reads source; reader reads lake; other declares none.
    {"task_id": "writer", "retries": 1, "inlets": [SOURCE], "outlets": [LAKE, REPORT]},
    {"task_id": "reader", "inlets": [LAKE]},
    {"task_id": "other"},
]


@pytest.fixture
def make_events_run(make_run: Callable[..., Run]) -> Callable[[], Run]:
    return lambda: make_run(TASKS, dag_id="assets")


def extras(client: ExecutionClient, asset: str, **query: Any) -> list[Any]:
    return [msgspec.json.decode(e.extra) for e in client.get_asset_events(asset, **query).events]


def test_a_successful_try_records_events_that_later_tasks_read(
    make_events_run: Callable[[], Run], attach: Attach, public: PublicClient, raw: httpx.Client
) -> None:
    first_run = make_events_run()
    writer = attach(first_run.ti_id("writer"))
    writer.client.record_asset_events(
        writer.ti_id, [("lake", b'{"rows": 10}'), ("report", b"{}"), ("lake", b'{"alias": 1}')]
    )
    assert writer.client.finish(writer.ti_id, "success") == "success"

    later = make_events_run()
    reader = attach(later.ti_id("reader"))
    events = reader.client.get_asset_events("lake").events
    assert [msgspec.json.decode(e.extra) for e in events] == [{"rows": 10}, {"alias": 1}]
    first = events[0]
    assert (first.asset.name, first.asset.uri) == ("lake", "s3://lake/tables")
    assert (first.source_dag_id, first.source_run_id) == ("assets", first_run.run_id)
    assert (first.source_task_id, first.source_map_index) == ("writer", -1)
    assert datetime.fromisoformat(first.timestamp).utcoffset() == timedelta(0)
    assert events[0].id < events[1].id

    # The writer reads what it wrote (an outlet), by name or uri.
    assert extras(writer.client, "report") == [{}]
    by_uri = raw.get("/execution/asset-events", params={"uri": LAKE["uri"]}, headers=reader.headers)
    assert [e["extra"] for e in by_uri.json()["events"]] == [{"rows": 10}, {"alias": 1}]

    assets = {a["name"]: a for a in public.list_assets()}
    assert assets["lake"]["events"] == 2
    assert assets["lake"]["last_event_at"] == events[1].timestamp
    assert (assets["source"]["events"], assets["source"]["last_event_at"]) == (0, None)


def test_events_on_an_asset_that_is_not_an_outlet_are_refused_whole(
    make_events_run: Callable[[], Run], attach: Attach, public: PublicClient
) -> None:
    run = make_events_run()
    writer, other = attach(run.ti_id("writer")), attach(run.ti_id("other"))
    with pytest.raises(UndeclaredAssetError, match="does not declare asset 'source' as an outlet"):
        writer.client.record_asset_events(writer.ti_id, [("lake", b"{}"), ("source", b"{}")])
    with pytest.raises(UndeclaredAssetError, match="'nowhere'"):
        writer.client.record_asset_events(writer.ti_id, [("nowhere", b"{}")])
    with pytest.raises(UndeclaredAssetError, match=r"outlets \(none\)"):
        other.client.record_asset_events(other.ti_id, [("lake", b"{}")])
    with pytest.raises(PermissionDeniedError):
        other.client.record_asset_events(writer.ti_id, [("lake", b"{}")])
    assert all(a["events"] == 0 for a in public.list_assets())


@pytest.mark.parametrize(
    ("extra", "error"),
    [(b"[1]", InvalidValueError), (b'"x"', InvalidValueError), (b"null", InvalidValueError)],
)
def test_an_extra_must_be_a_json_object(
    make_events_run: Callable[[], Run], attach: Attach, extra: bytes, error: type[Exception]
) -> None:
    writer = attach(make_events_run().ti_id("writer"))
    with pytest.raises(error):
        writer.client.record_asset_events(writer.ti_id, [("lake", extra)])
    assert extras(writer.client, "lake") == []


def test_a_malformed_body_is_an_invalid_value(
    make_events_run: Callable[[], Run], attach: Attach, raw: httpx.Client
) -> None:
    writer = attach(make_events_run().ti_id("writer"))
    answer = raw.post(
        f"/execution/task-instances/{writer.ti_id}/asset-events",
        headers={**writer.headers, "content-type": "application/json"},
        content=b'{"events": [{"asset": "lake", "extra": {"x": NaN}}]}',
    )
    error_of(answer, 400, "invalid_value")


def test_an_ended_try_records_nothing(make_events_run: Callable[[], Run], attach: Attach) -> None:
    writer = attach(make_events_run().ti_id("writer"))
    writer.client.finish(writer.ti_id, "failed", "boom", retry=False)
    with pytest.raises(ConflictError, match="not running"):
        writer.client.record_asset_events(writer.ti_id, [("lake", b"{}")])


@pytest.mark.parametrize("ending", ["failed", "skipped"])
def test_a_try_that_does_not_succeed_leaves_no_events(
    make_events_run: Callable[[], Run], attach: Attach, ending: str
) -> None:
    run = make_events_run()
    first = attach(run.ti_id("writer"))
    first.client.record_asset_events(first.ti_id, [("lake", b'{"try": 1}')])
    assert extras(first.client, "lake") == [{"try": 1}]
    first.client.finish(first.ti_id, ending, "it died after sending them")
    reader = attach(run.ti_id("reader"))
    assert extras(reader.client, "lake") == []
    if ending == "failed":  # up for retry: the second try records its own
        second = attach(run.ti_id("writer"))
        second.client.record_asset_events(second.ti_id, [("lake", b'{"try": 2}')])
        second.client.finish(second.ti_id, "success")
        assert extras(reader.client, "lake") == [{"try": 2}]


def test_a_task_reads_events_of_declared_assets_only(
    make_events_run: Callable[[], Run], attach: Attach, raw: httpx.Client
) -> None:
    reader = attach(make_events_run().ti_id("reader"))
    with pytest.raises(UndeclaredAssetError):
        reader.client.get_asset_events("report")
    error_of(raw.get("/execution/asset-events", headers=reader.headers), 403, "asset_not_declared")


def test_events_can_be_narrowed_like_airflows_inlet_events(
    make_events_run: Callable[[], Run], attach: Attach, raw: httpx.Client
) -> None:
    run = make_events_run()
    writer = attach(run.ti_id("writer"))
    writer.client.record_asset_events(writer.ti_id, [("lake", b'{"n": %d}' % n) for n in range(5)])
    client = writer.client
    assert extras(client, "lake", limit=2) == [{"n": 0}, {"n": 1}]
    assert extras(client, "lake", limit=2, ascending=False) == [{"n": 4}, {"n": 3}]
    stamp = client.get_asset_events("lake").events[0].timestamp
    assert extras(client, "lake", after=stamp) == []  # all five share the try's timestamp
    assert len(extras(client, "lake", before="2999-01-01T00:00:00")) == 5
    answer = raw.get("/execution/asset-events?name=lake&after=yesterday", headers=writer.headers)
    assert error_of(answer, 400, "usage_error")["message"].startswith("after must be an ISO 8601")


def test_the_public_api_pages_through_an_assets_events_newest_first(
    make_events_run: Callable[[], Run], attach: Attach, public: PublicClient
) -> None:
    writer = attach(make_events_run().ti_id("writer"))
    writer.client.record_asset_events(writer.ti_id, [("lake", b'{"n": %d}' % n) for n in range(5)])
    first = public.list_asset_events("lake", limit=2)
    assert [e["extra"] for e in first] == [{"n": 4}, {"n": 3}]
    assert set(first[0]) == {
        "id",
        "asset",
        "uri",
        "extra",
        "source_dag_id",
        "source_run_id",
        "source_task_id",
        "source_map_index",
        "timestamp",
    }
    assert (first[0]["asset"], first[0]["uri"]) == ("lake", "s3://lake/tables")
    rest = public.list_asset_events("lake", limit=10, before_id=first[-1]["id"])
    assert [e["extra"] for e in rest] == [{"n": 2}, {"n": 1}, {"n": 0}]
    assert public.list_asset_events("report") == []
    with pytest.raises(UnknownAssetError):
        public.list_asset_events("nowhere")


def test_an_asset_name_with_slashes_in_the_public_path(
    make_run: Callable[..., Run], attach: Attach, public: PublicClient
) -> None:
    named = {"name": "s3://lake/raw/../x", "uri": "s3://lake/raw/x"}
    run = make_run([{"task_id": "w", "outlets": [named]}], dag_id="slashes")
    writer = attach(run.ti_id("w"))
    writer.client.record_asset_events(writer.ti_id, [(named["name"], b'{"ok": true}')])
    assert [e["extra"] for e in public.list_asset_events(named["name"])] == [{"ok": True}]


def test_an_extra_over_max_value_bytes_is_refused(make_settings: Any) -> None:
    settings = make_settings(TASKSTATE__STATE_STORE__MAX_VALUE_BYTES="16")
    with (
        EmbeddedServer(settings) as server,
        PublicClient(server.url, client_api_key(settings)) as public,
    ):
        created = public.create_run(
            {"dag_id": "d", "run_id": "r", "tasks": [{"task_id": "t", "outlets": [LAKE]}]}
        )
        ti_id = created["task_instances"][0]["id"]
        client = ExecutionClient(server.url, public.queue_task_instance(ti_id)["token"])
        try:
            client.start(ti_id, pid=1, hostname="h")
            with pytest.raises(ValueTooLargeError):
                client.record_asset_events(ti_id, [("lake", b'{"k": "' + b"x" * 20 + b'"}')])
            assert public.list_assets()[0]["events"] == 0
        finally:
            client.close()


ALIASED: list[dict[str, Any]] = [
    # aliased writes lake and, through the alias "daily", assets named when it runs.
    {"task_id": "aliased", "retries": 1, "outlets": [LAKE], "outlet_aliases": ["daily"]},
    {"task_id": "plain", "outlets": [LAKE]},
    {"task_id": "new_reader", "inlets": [{"name": "new", "uri": "s3://new"}]},
]


def test_an_alias_adds_events_to_any_asset_and_registers_it(
    make_run: Callable[..., Run], attach: Attach, public: PublicClient
) -> None:
    first = make_run(ALIASED, dag_id="aliases")
    aliased = attach(first.ti_id("aliased"))
    aliased.client.record_asset_events(
        aliased.ti_id,
        [("lake", b'{"own": 1}')],
        [
            ("daily", "brand_new", "s3://brand/new", b'{"via": 1}'),
            ("daily", "lake", LAKE["uri"], b"{}"),
        ],
    )
    assert aliased.client.finish(aliased.ti_id, "success") == "success"
    assets = {a["name"]: a for a in public.list_assets()}
    assert (assets["brand_new"]["uri"], assets["brand_new"]["events"]) == ("s3://brand/new", 1)
    [event] = public.list_asset_events("brand_new")
    assert (event["extra"], event["source_task_id"]) == ({"via": 1}, "aliased")
    lake = public.list_asset_events("lake")
    assert [e["extra"] for e in lake] == [{}, {"own": 1}]  # newest first: the alias's is last


def test_events_through_an_undeclared_alias_are_refused_whole(
    make_run: Callable[..., Run], attach: Attach, public: PublicClient
) -> None:
    run = make_run(ALIASED, dag_id="aliases")
    aliased, plain = attach(run.ti_id("aliased")), attach(run.ti_id("plain"))
    with pytest.raises(UndeclaredAssetError, match="does not declare asset alias 'other'"):
        aliased.client.record_asset_events(
            aliased.ti_id, [("lake", b"{}")], [("other", "x", "s3://x", b"{}")]
        )
    with pytest.raises(UndeclaredAssetError, match="does not declare asset alias 'daily'"):
        plain.client.record_asset_events(plain.ti_id, [], [("daily", "x", "s3://x", b"{}")])
    with pytest.raises(ConflictError, match="registered with uri"):
        aliased.client.record_asset_events(aliased.ti_id, [], [("daily", "lake", "s3://no", b"{}")])
    assets = {a["name"]: a for a in public.list_assets()}
    assert "x" not in assets and assets["lake"]["events"] == 0


def test_a_failed_try_leaves_no_events_added_through_an_alias(
    make_run: Callable[..., Run], attach: Attach
) -> None:
    run = make_run(ALIASED, dag_id="aliases")
    first = attach(run.ti_id("aliased"))
    first.client.record_asset_events(first.ti_id, [], [("daily", "new", "s3://new", b"{}")])
    first.client.finish(first.ti_id, "failed", "it died after sending them")
    reader = attach(run.ti_id("new_reader"))
    assert extras(reader.client, "new") == []
