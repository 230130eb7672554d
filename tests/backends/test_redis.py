"""RedisStateBackend: the server-backend contract on a real Redis, and what only Redis does."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Coroutine, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest
import redis

from taskstate.backends.redis import RedisStateBackend
from taskstate.backends.registry import create_backend
from taskstate.config.display import MASK
from taskstate.errors import BackendError, BackendImportError
from taskstate.state import AssetScope, StoredValue, TaskScope
from taskstate.testing import ServerBackendContract

T = TypeVar("T")

pytestmark = pytest.mark.redis

REF = "example_worker_backend.ExampleBackend"


class TestRedisBackend(ServerBackendContract):
    """The contract, with the async twins on one event loop per test (see ``run_async``)."""

    @pytest.fixture
    def backend(self, redis_url: str, prefix: str) -> Iterator[RedisStateBackend]:
        # The async client's connections belong to the loop that opened them, so every
        # scenario of a test runs on this runner, and the client is closed on it.
        self._runner = asyncio.Runner()
        backend = RedisStateBackend(redis_url, prefix=prefix, allow_volatile=True)
        try:
            yield backend
        finally:
            self._runner.run(backend.aclose())
            self._runner.close()

    def run_async(self, coro: Coroutine[Any, Any, T]) -> T:
        return self._runner.run(coro)


# -- what only Redis does ------------------------------------------------------------------------


@pytest.fixture
def backend(redis_url: str, prefix: str) -> Iterator[RedisStateBackend]:
    backend = RedisStateBackend(redis_url, prefix=prefix, allow_volatile=True)
    yield backend
    backend.close()


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (TaskScope("a", "b:c", "d"), TaskScope("a:b", "c", "d")),
        (TaskScope("a", "1:b", "c"), TaskScope("a1", "b", "c")),
        (TaskScope("d", "r", "t", 1), TaskScope("d", "r", "t:1")),
        (AssetScope("x:y"), AssetScope("x")),
        (AssetScope("s3://b/k"), AssetScope("s3:/b/k")),
        (AssetScope("1:a"), AssetScope("a")),
        (AssetScope("task:1:d1:r1:t:-1"), TaskScope("d", "r", "t")),
    ],
)
def test_scopes_whose_parts_hold_separators_do_not_collide(
    backend: RedisStateBackend, first: Any, second: Any
) -> None:
    backend.set(first, "k", StoredValue('"first"'))
    backend.set(second, "k", StoredValue('"second"'))
    assert backend.get(first, "k") == StoredValue('"first"')
    assert backend.get(second, "k") == StoredValue('"second"')
    assert backend.clear(first) == []
    assert backend.get(second, "k") == StoredValue('"second"')


def test_keys_live_under_the_prefix(
    backend: RedisStateBackend, raw: redis.Redis, prefix: str
) -> None:
    backend.set(TaskScope("d", "r", "t", 2), "k", StoredValue("1"))
    backend.set(AssetScope("orders"), "k", StoredValue("mem://o", REF))
    assert sorted(raw.scan_iter(match=f"{prefix}:*")) == [
        f"{prefix}:asset:6:orders",
        f"{prefix}:refs",
        f"{prefix}:task:1:d1:r1:t:2",
        f"{prefix}:task:1:d1:r1:t:maps",
    ]


def test_a_user_value_is_stored_verbatim_beside_its_marker(
    backend: RedisStateBackend, raw: redis.Redis, prefix: str
) -> None:
    scope = AssetScope("orders")
    backend.set(scope, "inline", StoredValue('"r1:2:ab"'))
    backend.set(scope, "ref", StoredValue('{"a": 1}', "x.Y"))
    fields = raw.hgetall(f"{prefix}:asset:6:orders")
    assert fields["inline"].startswith("v")
    assert fields["inline"].endswith(':"r1:2:ab"')
    assert fields["ref"].startswith("r")
    assert fields["ref"].endswith(':3:x.Y{"a": 1}')
    assert backend.get(scope, "inline") == StoredValue('"r1:2:ab"')


def test_task_index_tracks_map_indices(
    backend: RedisStateBackend, raw: redis.Redis, prefix: str
) -> None:
    scopes = [TaskScope("d", "r", "t", i) for i in (-1, 0, 7)]
    index = f"{prefix}:task:1:d1:r1:t:maps"
    for scope in scopes:
        backend.set(scope, "k", StoredValue("1"))
        backend.set(scope, "ref", StoredValue(f"mem://{scope.map_index}", REF))
    assert raw.smembers(index) == {f"{prefix}:task:1:d1:r1:t:{i}" for i in (-1, 0, 7)}

    # Emptying one map index by delete or clear drops it from the index.
    backend.delete(scopes[0], "k")
    backend.delete(scopes[0], "ref")
    backend.clear(scopes[1])
    assert raw.smembers(index) == {f"{prefix}:task:1:d1:r1:t:7"}

    backend.set(scopes[1], "k", StoredValue("2"))
    removed = backend.clear(scopes[2], all_map_indices=True)
    assert removed == [StoredValue("mem://7", REF)]
    assert list(raw.scan_iter(match=f"{prefix}:*")) == []


def test_clear_all_map_indices_leaves_other_tasks_and_runs(backend: RedisStateBackend) -> None:
    others = [TaskScope("d", "r", "t2"), TaskScope("d", "r2", "t"), TaskScope("d2", "r", "t")]
    for scope in [TaskScope("d", "r", "t", 0), *others]:
        backend.set(scope, "k", StoredValue("mem://x", REF))
    assert backend.clear(TaskScope("d", "r", "t"), all_map_indices=True) == [
        StoredValue("mem://x", REF)
    ]
    assert all(backend.get(scope, "k") is not None for scope in others)


def test_closed_port_raises_backend_error_without_password() -> None:
    backend = RedisStateBackend("redis://:s3cret@127.0.0.1:1/0", prefix="p", allow_volatile=True)
    try:
        with pytest.raises(
            BackendError, match=re.escape(f"Redis at redis://:{MASK}@127.0.0.1:1/0")
        ) as info:
            backend.get(TaskScope("d", "r", "t"), "k")
        assert isinstance(info.value.__cause__, redis.RedisError)
        assert "s3cret" not in info.value.message
        assert "s3cret" not in repr(backend)
        assert info.value.detail["url"] == f"redis://:{MASK}@127.0.0.1:1/0"

        async def scenario() -> None:
            try:
                with pytest.raises(BackendError):
                    await backend.aset(AssetScope("a"), "k", StoredValue("1"))
                with pytest.raises(BackendError):
                    await backend.aclear(TaskScope("d", "r", "t"), all_map_indices=True)
            finally:
                await backend.aclose()

        asyncio.run(scenario())
    finally:
        backend.close()


def test_malformed_url_raises_backend_error() -> None:
    with pytest.raises(BackendError, match="cannot use Redis URL"):
        RedisStateBackend("http://:pw@example.com/")


def test_built_by_create_backend(redis_url: str, prefix: str) -> None:
    backend = create_backend(
        "redis",
        {"url": redis_url, "prefix": prefix, "allow_volatile": True},
        setting="[state_store] backend",
    )
    try:
        assert isinstance(backend, RedisStateBackend)
        backend.set(TaskScope("d", "r", "t"), "k", StoredValue("1"))
        assert backend.get(TaskScope("d", "r", "t"), "k") == StoredValue("1")
    finally:
        backend.close()
    with pytest.raises(BackendImportError, match=r"\[state_store\] backend_kwargs.*host"):
        create_backend(
            "redis",
            {"host": "x"},
            setting="[state_store] backend",
            kwargs_setting="[state_store] backend_kwargs",
        )


# -- retention: the expiry index and the encoding ---------------------------------------------

_LONG_AGO = datetime(2001, 1, 1, tzinfo=UTC)
_LONG_AGO_US = 978_307_200_000_000


def _member(hash_name: str, field: str) -> str:
    return f"{len(hash_name.encode())}:{hash_name}{field}"


def test_an_expiring_value_carries_its_expiry_and_writer(
    backend: RedisStateBackend, raw: redis.Redis, prefix: str
) -> None:
    scope = AssetScope("orders")
    writer = '{"run_id":"ключ"}'
    backend.set(scope, "k", StoredValue("mem://k", "x.Y", _LONG_AGO, writer))
    value = raw.hget(f"{prefix}:asset:6:orders", "k")
    pattern = rf"r\d+e{_LONG_AGO_US}w17n\d+:{re.escape(writer)}3:x\.Ymem://k"
    assert re.fullmatch(pattern, value or "")


def test_values_written_before_retention_still_read(
    backend: RedisStateBackend, raw: redis.Redis, prefix: str
) -> None:
    scope = AssetScope("orders")
    raw.hset(f"{prefix}:asset:6:orders", mapping={"v": 'v1700000000000000:"old"', "r": "r1:3:x.Ym"})
    assert backend.get(scope, "v") == StoredValue('"old"')
    assert backend.get(scope, "r") == StoredValue("m", "x.Y")
    assert [(e.key, e.stored) for e in backend.list_entries(scope)] == [
        ("r", StoredValue("m", "x.Y")),
        ("v", StoredValue('"old"')),
    ]
    assert backend.count_expired(now=datetime.now(UTC)) == 0


def test_the_expiry_index_follows_every_write(
    backend: RedisStateBackend, raw: redis.Redis, prefix: str
) -> None:
    index = f"{prefix}:expiring"
    task = TaskScope("d", "r", "t", 0)
    task_hash = f"{prefix}:task:1:d1:r1:t:0"
    asset_hash = f"{prefix}:asset:6:orders"
    later = _LONG_AGO + timedelta(seconds=5)
    backend.set(task, "a", StoredValue("1", expires_at=_LONG_AGO))
    backend.set(task, "b", StoredValue("1", expires_at=later))
    backend.set(AssetScope("orders"), "ключ", StoredValue("1", expires_at=_LONG_AGO))
    # Equal scores come in the members' byte order.
    assert raw.zrange(index, 0, -1, withscores=True) == [
        (_member(asset_hash, "ключ"), _LONG_AGO_US),
        (_member(task_hash, "a"), _LONG_AGO_US),
        (_member(task_hash, "b"), _LONG_AGO_US + 5_000_000),
    ]
    backend.set(task, "a", StoredValue("2"))  # now permanent: out of the index
    backend.delete(task, "b")
    assert raw.zrange(index, 0, -1) == [_member(asset_hash, "ключ")]
    backend.clear(AssetScope("orders"))
    backend.set(task, "c", StoredValue("1", expires_at=later))
    backend.clear(task, all_map_indices=True)
    assert raw.exists(index) == 0


def test_a_clean_up_drops_an_emptied_map_index_from_its_task(
    backend: RedisStateBackend, raw: redis.Redis, prefix: str
) -> None:
    maps = f"{prefix}:task:1:d1:r1:t:maps"
    backend.set(TaskScope("d", "r", "t", 0), "k", StoredValue("1", expires_at=_LONG_AGO))
    backend.set(TaskScope("d", "r", "t", 1), "k", StoredValue("1", expires_at=_LONG_AGO))
    backend.set(TaskScope("d", "r", "t", 1), "kept", StoredValue("1"))
    assert backend.delete_expired(now=_LONG_AGO, limit=10).removed == 2
    assert raw.smembers(maps) == {f"{prefix}:task:1:d1:r1:t:1"}
    assert raw.exists(f"{prefix}:task:1:d1:r1:t:0") == 0
    assert raw.exists(f"{prefix}:expiring") == 0
