"""The task-instance, asset and run types: one struct for a frame and an HTTP body alike."""

from __future__ import annotations

import msgspec

from taskstate.contracts.http import AssetEventBody, StartResponse
from taskstate.contracts.scopes import AssetNamed, OwnTask, TaskInstanceId, resolve
from taskstate.contracts.types import AssetInfo, DagRunInfo, TaskInstanceInfo, WorkerBackendSpec

TI = TaskInstanceInfo("ti-1", "d", "r", "t", -1, 2)
ASSETS = [AssetInfo("orders", "s3://lake/orders", inlet=True), AssetInfo("out", "x://o")]


def test_a_start_response_passes_the_conf_through_as_json_text() -> None:
    run = DagRunInfo(None, None, None, msgspec.Raw(b'{"n": [1, 2]}'), "2026-03-01T00:00:00+00:00")
    body = msgspec.json.encode(StartResponse(ti=TI, assets=ASSETS, max_value_bytes=9, dag_run=run))
    assert b'"conf":{"n": [1, 2]}' in body
    decoded = msgspec.json.decode(body, type=StartResponse)
    assert decoded.ti == TI
    assert decoded.assets == ASSETS
    assert bytes(decoded.dag_run.conf) == b'{"n": [1, 2]}'
    # The frame form of the same run: the bytes of that text.
    framed = decoded.dag_run.with_conf_bytes()
    assert framed.conf == b'{"n": [1, 2]}'
    assert msgspec.msgpack.decode(msgspec.msgpack.encode(framed), type=DagRunInfo[bytes]) == framed


def test_the_types_read_the_json_the_execution_api_has_always_sent() -> None:
    # The bodies of earlier servers, field by field: the shared types change nothing on the wire.
    ti = b'{"id":"ti-1","dag_id":"d","run_id":"r","task_id":"t","map_index":-1,"try_number":2}'
    assert msgspec.json.decode(ti, type=TaskInstanceInfo) == TI
    asset = b'{"name":"orders","uri":"s3://lake/orders","inlet":true,"outlet":false}'
    assert msgspec.json.decode(asset, type=AssetInfo) == ASSETS[0]
    assert msgspec.json.encode(ASSETS[0]) == asset
    event = msgspec.json.decode(
        b'{"id":1,"asset":{"name":"a","uri":"u"},"extra":{},"source_dag_id":null,'
        b'"source_run_id":null,"source_task_id":null,"source_map_index":-1,"timestamp":"t"}',
        type=AssetEventBody,
    )
    assert event.asset == AssetInfo("a", "u")


def test_a_worker_backend_spec_round_trips() -> None:
    spec = WorkerBackendSpec("pkg.mod.Backend", {"root": "/tmp/x", "n": 2})
    assert msgspec.msgpack.decode(msgspec.msgpack.encode(spec), type=WorkerBackendSpec) == spec
    assert WorkerBackendSpec("p").kwargs == {}


def test_a_frame_scope_resolves_to_the_scope_the_api_names() -> None:
    assert resolve(OwnTask(), "ti-9") == TaskInstanceId("ti-9")
    assert resolve(AssetNamed("orders"), "ti-9") == AssetNamed("orders")
