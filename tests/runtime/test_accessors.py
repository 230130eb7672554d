import asyncio
import math
from datetime import timedelta
from typing import Any

import pytest

from taskstate.contracts.frames import SetState
from taskstate.errors import (
    InvalidKeyError,
    InvalidRetentionError,
    InvalidValueError,
    ReferenceResolutionError,
    UndeclaredAssetError,
    ValueTooLargeError,
)
from taskstate.runtime.accessors import AssetState, AssetStates, TaskState
from taskstate.runtime.worker_backend import WorkerBackend
from taskstate.sdk import NEVER_EXPIRE, Asset
from taskstate.state import BaseStateBackend, TaskScope

ORDERS = Asset(name="orders", uri="s3://lake/orders")
SCOPE = TaskScope("d", "r", "t")


class DictBackend(BaseStateBackend):
    """A worker-side backend that keeps objects in a dict and records each hook call."""

    def __init__(self) -> None:
        self.objects: dict[str, str] = {}
        self.calls: list[str] = []

    def serialize_task_state_value(self, *, value: str, key: str, ti_id: str) -> str:
        ref = f"dict://{ti_id}/{key}"
        self.objects[ref] = value
        self.calls.append(f"serialize {key}")
        return ref

    def deserialize_task_state_value(self, stored: str) -> str:
        self.calls.append(f"deserialize {stored}")
        return self.objects[stored]

    def purge_task_state(self, stored: str) -> None:
        self.calls.append(f"purge {stored}")
        del self.objects[stored]

    get = set = delete = clear = aget = aset = adelete = aclear = None  # type: ignore[assignment]


DictBackend.__abstractmethods__ = frozenset()


def task_state(served, worker=None, limit=1000):  # type: ignore[no-untyped-def]
    comms, _ = served
    return TaskState(comms, worker, limit, ti_id="ti-1", scope=SCOPE)


def test_inline_values_round_trip(served) -> None:  # type: ignore[no-untyped-def]
    ts = task_state(served)
    assert ts.get("missing") is None
    assert ts.get("missing", 5) == 5
    ts.set("k", {"a": [1, 2.5, "x", True, None]})
    assert ts.get("k") == {"a": [1, 2.5, "x", True, None]}
    ts.delete("k")
    assert ts.get("k") is None
    ts.delete("k")  # a missing key is no error


def test_bad_input_fails_before_any_request(served) -> None:  # type: ignore[no-untyped-def]
    ts = task_state(served, limit=20)
    _, server = served
    for key in ("", "x" * 513):
        with pytest.raises(InvalidKeyError):
            ts.set(key, 1)
    for value in (None, math.nan, object()):
        with pytest.raises(InvalidValueError):
            ts.set("k", value)
    with pytest.raises(ValueTooLargeError):
        ts.set("k", "x" * 50)
    assert server.requests == []


def test_worker_backend_keeps_the_value_and_the_server_the_reference(served) -> None:  # type: ignore[no-untyped-def]
    backend = DictBackend()
    ts = task_state(served, WorkerBackend(backend), limit=20)
    _, server = served
    ts.set("big", "x" * 100)  # over the inline limit: the worker backend keeps it
    data, ref_backend = server.store[("ti", "big")]
    assert data == b"dict://ti-1/big"
    assert ref_backend == WorkerBackend(backend).path
    assert ts.get("big") == "x" * 100
    ts.set("other", 1)
    ts.clear()
    assert backend.objects == {}
    assert backend.calls == [
        "serialize big",
        "deserialize dict://ti-1/big",
        "serialize other",
        "purge dict://ti-1/big",
        "purge dict://ti-1/other",
    ]


def test_a_reference_without_its_backend_is_a_clear_error(served) -> None:  # type: ignore[no-untyped-def]
    backend = DictBackend()
    task_state(served, WorkerBackend(backend)).set("k", "v")
    with pytest.raises(ReferenceResolutionError, match="no worker backend is configured"):
        task_state(served).get("k")


def test_no_op_hooks_store_inline(served) -> None:  # type: ignore[no-untyped-def]
    comms, server = served
    state = AssetState(comms, WorkerBackend(DictBackend()), 1000, asset=ORDERS)
    state.set("watermark", "2026-01-01")  # DictBackend has no asset hooks: stored inline
    assert server.store[("asset:orders", "watermark")] == (b'"2026-01-01"', None)
    small = AssetState(comms, WorkerBackend(DictBackend()), 20, asset=ORDERS)
    with pytest.raises(ValueTooLargeError):
        small.set("big", "x" * 50)  # inline, so the database's size limit applies
    assert ("asset:orders", "big") not in server.store


def test_asset_states_lookup_and_shortcut(served) -> None:  # type: ignore[no-untyped-def]
    comms, _ = served
    one = AssetStates([AssetState(comms, None, 1000, asset=ORDERS)], task_id="t")
    one.set("w", 1)
    assert one[ORDERS].get("w") == 1
    assert one["orders"].get("w") == 1
    assert one["s3://lake/orders"].get("w") == 1
    assert ORDERS in one and len(one) == 1 and list(one) == ["orders"]
    with pytest.raises(UndeclaredAssetError, match="does not declare asset 'nope'"):
        one["nope"]
    two = AssetStates(
        [
            AssetState(comms, None, 1000, asset=ORDERS),
            AssetState(comms, None, 1000, asset=Asset("other")),
        ],
        task_id="t",
    )
    with pytest.raises(UndeclaredAssetError, match="declares 2 assets"):
        two.get("w")


def test_async_twins(served) -> None:  # type: ignore[no-untyped-def]
    ts = task_state(served)

    async def work() -> object:
        await ts.aset("a", 1)
        await asyncio.gather(*(ts.aset(f"k{i}", i) for i in range(20)))
        got = await asyncio.gather(*(ts.aget(f"k{i}") for i in range(20)))
        await ts.adelete("k0")
        missing = await ts.aget("k0", "gone")
        await ts.aclear()
        return got, missing, await ts.aget("a")

    assert asyncio.run(work()) == (list(range(20)), "gone", None)


# -- retention ------------------------------------------------------------------------------


def _retentions(server: Any) -> list[tuple[str, object]]:
    sets = [r for r in server.requests if isinstance(r, SetState)]
    return [(r.key, r.retention) for r in sets]


def test_set_carries_the_retention_in_its_frame(served) -> None:  # type: ignore[no-untyped-def]
    comms, server = served
    ts = task_state(served)
    ts.set("default", 1)
    ts.set("day", 1, retention=timedelta(days=1))
    ts.set("kept", 1, retention=NEVER_EXPIRE)
    asset = AssetState(comms, None, 1000, asset=ORDERS)
    asset.set("short", 1, retention=timedelta(milliseconds=1500))
    only = AssetStates([asset], task_id="t")
    only.set("via_shortcut", 1, retention=NEVER_EXPIRE)

    async def work() -> None:
        await ts.aset("async", 1, retention=timedelta(seconds=5))
        await only.aset("async_shortcut", 1, retention=timedelta(seconds=6))

    asyncio.run(work())
    assert _retentions(server) == [
        ("default", None),
        ("day", 86_400.0),
        ("kept", "never"),
        ("short", 1.5),
        ("via_shortcut", "never"),
        ("async", 5.0),
        ("async_shortcut", 6.0),
    ]


def test_a_worker_backend_reference_carries_the_retention(served) -> None:  # type: ignore[no-untyped-def]
    backend = DictBackend()
    ts = task_state(served, WorkerBackend(backend), limit=20)
    _, server = served
    ts.set("big", "x" * 100, retention=timedelta(hours=1))
    (request,) = server.requests
    assert (request.data, request.ref_backend, request.retention) == (
        b"dict://ti-1/big",
        WorkerBackend(backend).path,
        3600.0,
    )


@pytest.mark.parametrize("retention", [timedelta(0), timedelta(seconds=-1), 60, 1.5, "never", True])
def test_a_bad_retention_fails_before_anything_is_stored(served, retention: Any) -> None:  # type: ignore[no-untyped-def]
    backend = DictBackend()
    ts = task_state(served, WorkerBackend(backend))
    comms, server = served
    with pytest.raises(InvalidRetentionError):
        ts.set("k", "v", retention=retention)
    with pytest.raises(InvalidRetentionError):
        asyncio.run(ts.aset("k", "v", retention=retention))
    with pytest.raises(InvalidRetentionError):
        AssetStates([AssetState(comms, None, 1000, asset=ORDERS)], task_id="t").set(
            "k", "v", retention=retention
        )
    assert server.requests == []
    assert backend.calls == []  # not even the worker backend was asked to store it
