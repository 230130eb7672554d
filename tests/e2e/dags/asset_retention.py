"""Asset state with retentions, through the supervisor: one key for an hour, one forever, one
set with the async twin for a second, read again after it has run out."""

import asyncio
from datetime import UTC, datetime, timedelta

from taskstate.sdk import DAG, NEVER_EXPIRE, Asset, task

feed = Asset(name="feed", uri="s3://lake/feed")

with DAG(dag_id="e2e_asset_retention", start_date=datetime(2026, 1, 1, tzinfo=UTC)):

    @task(inlets=[feed])
    async def cursor(asset_state):
        await asset_state.aset("cursor", "2026-01-02", retention=timedelta(hours=1))
        await asset_state.aset("kept", 1, retention=NEVER_EXPIRE)
        await asset_state[feed].aset("brief", True, retention=timedelta(seconds=1))
        print(f"right away: brief = {await asset_state.aget('brief')}")
        await asyncio.sleep(1.5)  # the retention itself must run out
        print(f"1.5 s later: brief = {await asset_state.aget('brief')}")

    cursor()
