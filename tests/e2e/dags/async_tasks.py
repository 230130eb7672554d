"""Async tasks: the a-twins of task state and asset state."""

import asyncio
from datetime import UTC, datetime

from taskstate.sdk import DAG, Asset, task

feed = Asset(name="e2e_async_feed", uri="file:///tmp/e2e-async-feed")

with DAG(dag_id="e2e_async", start_date=datetime(2026, 1, 1, tzinfo=UTC)):

    @task(outlets=[feed])
    async def produce(task_state, asset_state):
        await task_state.aset("a", {"n": 1})
        await task_state.aset("b", [1, 2, 3])
        await task_state.aset("c", "three")
        assert await task_state.aget("a") == {"n": 1}
        assert await task_state.aget("missing", "fallback") == "fallback"
        # Several calls in flight at once share the one socket to the supervisor.
        got = await asyncio.gather(*(task_state.aget(k) for k in ("a", "b", "c")))
        assert got == [{"n": 1}, [1, 2, 3], "three"], got
        await task_state.adelete("b")
        assert await task_state.aget("b") is None
        await task_state.aclear()
        assert await task_state.aget("a") is None and await task_state.aget("c") is None
        await task_state.aset("kept", True)

        state = asset_state[feed]
        await state.aset("offset", 10)
        await state.aset("scratch", "x")
        await state.adelete("scratch")
        assert await state.aget("scratch") is None
        # A task with exactly one asset may call the a-twins on asset_state directly.
        await asset_state.aset("offset", await asset_state.aget("offset") + 5)
        print("async produce: PASS")

    @task(inlets=[feed])
    async def consume(asset_state):
        offset = await asset_state[feed].aget("offset")
        assert offset == 15, offset
        await asset_state["e2e_async_feed"].aset("consumed", offset)  # by name
        assert await asset_state["file:///tmp/e2e-async-feed"].aget("consumed") == 15  # by uri
        print(f"async consume: PASS offset={offset}")

    produce() >> consume()
