"""RedisStateBackend's side of the purge protocol: the reference index, claims, purge numbers.

The race these make impossible is tested end to end in ``tests/api/test_purge_race.py``; here
each rule is checked on its own against a real Redis.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import redis

from taskstate.backends.redis import RedisStateBackend
from taskstate.errors import PurgePendingError
from taskstate.state import AssetScope, StoredValue, TaskScope
from taskstate.state.backend import ClaimAnswer

pytestmark = pytest.mark.redis

WORKER = "example_worker_backend.ExampleBackend"
TASK = TaskScope("d", "r", "t")
ASSET = AssetScope("orders")
DAY = 24 * 3600


@pytest.fixture
def backend(redis_url: str, prefix: str) -> Iterator[RedisStateBackend]:
    backend = RedisStateBackend(redis_url, prefix=prefix, allow_volatile=True)
    yield backend
    backend.close()


def ref(data: str, **kwargs: object) -> StoredValue:
    return StoredValue(data, WORKER, **kwargs)  # type: ignore[arg-type]


def named(backend: RedisStateBackend, *refs: str) -> set[str]:
    return set(backend.find_refs(WORKER, list(refs)))


def test_the_index_follows_every_write(backend: RedisStateBackend) -> None:
    backend.set(TASK, "a", ref("mem://1"))
    backend.set(TaskScope("d", "r", "t", 3), "a", ref("mem://1", written_by="w", encryption="k"))
    backend.set(ASSET, "b", ref("mem://2"))
    backend.set(ASSET, "c", StoredValue('"mem://3"'))  # a value that looks like one is not one
    assert named(backend, "mem://1", "mem://2", "mem://3") == {"mem://1", "mem://2"}
    backend.set(TASK, "a", StoredValue("1"))  # replaced by a value: one of two left
    assert named(backend, "mem://1") == {"mem://1"}
    backend.clear(TASK, all_map_indices=True)
    assert named(backend, "mem://1") == set()
    backend.delete(ASSET, "b")
    assert named(backend, "mem://2") == set()
    past = datetime.now(UTC) - timedelta(seconds=1)
    backend.set(ASSET, "e", ref("mem://4", expires_at=past))
    assert named(backend, "mem://4") == {"mem://4"}  # expired, but still named until cleaned
    assert backend.delete_expired(now=datetime.now(UTC), limit=10).removed == 1
    assert named(backend, "mem://4") == set()


def test_the_same_reference_written_again_counts_once(backend: RedisStateBackend) -> None:
    backend.set(TASK, "a", ref("mem://1"))
    backend.set(TASK, "a", ref("mem://1"))
    backend.delete(TASK, "a")
    assert named(backend, "mem://1") == set()


def test_references_written_before_the_index_are_counted(
    backend: RedisStateBackend, raw: redis.Redis, redis_url: str, prefix: str
) -> None:
    backend.set(TASK, "a", ref("mem://old"))
    backend.set(ASSET, "a", ref("mem://old"))
    raw.delete(f"{prefix}:refs", f"{prefix}:refs:built")  # as a store from before the index
    later = RedisStateBackend(redis_url, prefix=prefix, allow_volatile=True)
    try:
        assert named(later, "mem://old") == {"mem://old"}
        assert raw.hget(f"{prefix}:refs", f"{len(WORKER)}:{WORKER}mem://old") == "2"
        # Built once: a second backend does not count them again.
        again = RedisStateBackend(redis_url, prefix=prefix, allow_volatile=True)
        assert named(again, "mem://old") == {"mem://old"}
        again.close()
        assert raw.hget(f"{prefix}:refs", f"{len(WORKER)}:{WORKER}mem://old") == "2"
    finally:
        later.close()


def test_a_claim_is_granted_only_for_a_reference_no_value_names(
    backend: RedisStateBackend,
) -> None:
    backend.set(TASK, "live", ref("mem://live"))
    answers = backend.claim_purges(
        "c1", [(WORKER, "mem://live"), (WORKER, "mem://free")], seconds=60, remember=DAY
    )
    assert answers == [ClaimAnswer.LIVE, ClaimAnswer.GRANTED]
    # Another purger is refused what c1 holds; c1 asking again keeps it.
    assert backend.claim_purges("c2", [(WORKER, "mem://free")], seconds=60, remember=DAY) == [
        ClaimAnswer.HELD
    ]
    assert backend.claim_purges("c1", [(WORKER, "mem://free")], seconds=60, remember=DAY) == [
        ClaimAnswer.GRANTED
    ]


def test_a_set_meets_the_claim_and_then_the_purge(backend: RedisStateBackend) -> None:
    backend.claim_purges("c1", [(WORKER, "mem://k")], seconds=60, remember=DAY)
    with pytest.raises(PurgePendingError) as held:
        backend.set(TASK, "k", ref("mem://k"))
    assert held.value.detail["claimed"] is True
    assert backend.get(TASK, "k") is None
    # A value, or another reference, is not in the purge's way.
    backend.set(TASK, "k", StoredValue("1"))
    backend.set(TASK, "j", ref("mem://other"))

    number = backend.release_purges("c1", [(WORKER, "mem://k")], remember=DAY)
    assert number > 0
    # A writer that stored its object before that purge finished stores it again.
    with pytest.raises(PurgePendingError) as purged:
        backend.set(TASK, "k", ref("mem://k"), restored_after=number - 1)
    assert purged.value.detail == {
        "key": "k",
        "ref": "mem://k",
        "claimed": False,
        "purged_through": number,
    }
    backend.set(TASK, "k", ref("mem://k"), restored_after=number)
    stored = backend.get(TASK, "k")
    assert stored is not None and (stored.data, stored.ref_backend) == ("mem://k", WORKER)
    # Now live: no purge is granted it.
    assert backend.claim_purges("c3", [(WORKER, "mem://k")], seconds=60, remember=DAY) == [
        ClaimAnswer.LIVE
    ]


def test_purges_are_numbered_in_the_order_they_finish(backend: RedisStateBackend) -> None:
    backend.claim_purges("early", [(WORKER, "mem://a")], seconds=60, remember=DAY)
    backend.claim_purges("late", [(WORKER, "mem://b")], seconds=60, remember=DAY)
    first = backend.release_purges("late", [(WORKER, "mem://b")], remember=DAY)
    second = backend.release_purges("early", [(WORKER, "mem://a")], remember=DAY)
    assert second > first
    # A claim releases only what it holds.
    assert backend.release_purges("early", [(WORKER, "mem://b")], remember=DAY) == 0


def test_a_lapsed_claim_counts_as_a_purge_when_next_met(backend: RedisStateBackend) -> None:
    backend.claim_purges("gone", [(WORKER, "mem://k")], seconds=1, remember=DAY)
    time.sleep(1.1)  # the claim's own clock, in Redis: nothing else to wait on
    with pytest.raises(PurgePendingError) as lapsed:
        backend.set(TASK, "k", ref("mem://k"))
    assert lapsed.value.detail["claimed"] is False
    number = lapsed.value.detail["purged_through"]
    assert number > 0
    backend.set(TASK, "k", ref("mem://k"), restored_after=number)
    # Its purger, back too late, releases nothing.
    assert backend.release_purges("gone", [(WORKER, "mem://k")], remember=DAY) == 0


def test_a_lapsed_claim_may_be_taken_again(backend: RedisStateBackend) -> None:
    backend.claim_purges("gone", [(WORKER, "mem://k")], seconds=1, remember=DAY)
    time.sleep(1.1)
    assert backend.claim_purges("next", [(WORKER, "mem://k")], seconds=60, remember=DAY) == [
        ClaimAnswer.GRANTED
    ]


def test_the_async_twins_answer_the_same(redis_url: str, prefix: str) -> None:
    async def scenario() -> None:
        backend = RedisStateBackend(redis_url, prefix=prefix, allow_volatile=True)
        try:
            await backend.aset(ASSET, "k", ref("mem://live"))
            assert await backend.afind_refs(WORKER, ["mem://live", "mem://x"]) == {"mem://live"}
            pairs = [(WORKER, "mem://live"), (WORKER, "mem://x")]
            answers = await backend.aclaim_purges("c", pairs, seconds=60, remember=DAY)
            assert answers == [ClaimAnswer.LIVE, ClaimAnswer.GRANTED]
            with pytest.raises(PurgePendingError):
                await backend.aset(ASSET, "j", ref("mem://x"))
            number = await backend.arelease_purges("c", pairs, remember=DAY)
            await backend.aset(ASSET, "j", ref("mem://x"), restored_after=number)
        finally:
            await backend.aclose()

    asyncio.run(scenario())
