"""The supervisor's handlers of the XCom and asset-event frames, against a real API server:
each turns a frame into its execution-API call and the answer into the reply frame."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import msgspec
import pytest

from taskstate.client.execution import ExecutionClient
from taskstate.contracts.frames import (
    AssetEventsReply,
    GetAssetEvents,
    PullXCom,
    PushXCom,
    RecordAssetEvents,
    XComReply,
)
from taskstate.errors import UndeclaredAssetError
from taskstate.supervisor.handlers import HANDLERS

LAKE = {"name": "lake", "uri": "s3://lake/tables"}


class Attached:
    def __init__(self, url: str, public: Any, ti_id: str) -> None:
        self.ti_id = ti_id
        self.client = ExecutionClient(url, public.queue_task_instance(ti_id)["token"])
        self.client.start(ti_id, pid=os.getpid(), hostname="test-host")

    def handle(self, request: Any) -> Any:
        return HANDLERS[type(request)](self.client, self.ti_id, request)


@pytest.fixture
def tis(api_server: Any) -> Iterator[dict[str, Attached]]:
    with api_server.public() as public:
        tasks = [
            {"task_id": "writer", "outlets": [LAKE]},
            *({"task_id": "fan", "map_index": i} for i in range(2)),
        ]
        run = public.create_run({"dag_id": "h", "run_id": "r", "tasks": tasks})
        attached = {
            f"{ti['task_id']}{ti['map_index'] if ti['map_index'] >= 0 else ''}": Attached(
                api_server.url, public, ti["id"]
            )
            for ti in run["task_instances"]
        }
        yield attached
        for one in attached.values():
            one.client.close()


def test_xcom_frames(tis: dict[str, Attached]) -> None:
    assert tis["fan1"].handle(PushXCom("k", b'{"b": 1}')) is None
    assert tis["fan0"].handle(PushXCom("k", b"null")) is None
    writer = tis["writer"]
    assert writer.handle(PullXCom("fan", "k")) == XComReply(values=[None, b'{"b": 1}'])
    assert writer.handle(PullXCom("fan", "k", [1, 5])) == XComReply(values=[b'{"b": 1}', None])
    assert writer.handle(PullXCom("fan", "k", None, "h", "r")) == XComReply(
        values=[None, b'{"b": 1}']
    )


def test_asset_event_frames(tis: dict[str, Attached]) -> None:
    writer = tis["writer"]
    assert writer.handle(RecordAssetEvents([("lake", b'{"rows": 1}')])) is None
    reply = writer.handle(GetAssetEvents("lake"))
    assert isinstance(reply, AssetEventsReply)
    (event,) = reply.events
    assert (event.asset, event.uri) == ("lake", "s3://lake/tables")
    assert msgspec.json.decode(event.extra) == {"rows": 1}
    assert (event.source_dag_id, event.source_run_id) == ("h", "r")
    assert (event.source_task_id, event.source_map_index) == ("writer", -1)
    assert writer.handle(GetAssetEvents("lake", limit=0)) == AssetEventsReply(events=[])
    with pytest.raises(UndeclaredAssetError):
        tis["fan0"].handle(RecordAssetEvents([("lake", b"{}")]))
    with pytest.raises(UndeclaredAssetError):
        tis["fan0"].handle(GetAssetEvents("lake"))
