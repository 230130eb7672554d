"""``taskstate assets ...``: the assets tasks declare, and the events successful tries recorded."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from taskstate.cli.common import (
    ApiKey,
    ApiUrl,
    api_client,
    command_group,
    fail,
    plural,
    print_json,
    settings,
    stdout,
)
from taskstate.errors import TaskStateError

__all__ = ["app"]

app = command_group(help="Assets and their events.")

AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]

MAX_LIMIT = 1000
"""The most events one page of the API holds; larger limits are read page by page."""


@app.command("list")
def list_assets(as_json: AsJson = False, api_url: ApiUrl = None, api_key: ApiKey = None) -> None:
    """List the assets, with how many events each has and when the last was recorded."""
    try:
        with api_client(settings(), api_url, api_key) as (_, client):
            listed = client.list_assets()
    except TaskStateError as exc:
        fail(exc)
    if as_json:
        print_json(listed)
        return
    console = stdout()
    if not listed:
        console.print("no assets")
        return
    table = Table()
    for column in ("name", "uri", "events", "last event"):
        table.add_column(column)
    for asset in listed:
        last = asset["last_event_at"] or ""
        table.add_row(asset["name"], asset["uri"], str(asset["events"]), last)
    console.print(table)


def _source(event: dict[str, Any]) -> str:
    if event["source_task_id"] is None:
        return ""
    index = event["source_map_index"]
    task = event["source_task_id"] + (f"[{index}]" if index >= 0 else "")
    return f"{event['source_dag_id']} / {event['source_run_id']} / {task}"


@app.command("events")
def list_events(
    name: Annotated[str, typer.Argument(help="The asset's name.")],
    limit: Annotated[
        int, typer.Option("--limit", min=1, help="Show at most this many events, newest first.")
    ] = 20,
    as_json: AsJson = False,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
) -> None:
    """List the events recorded on asset NAME, newest first: when, by which task instance,
    and their extra."""
    events: list[dict[str, Any]] = []
    try:
        with api_client(settings(), api_url, api_key) as (_, client):
            before: int | None = None
            while len(events) < limit:
                page_size = min(limit - len(events), MAX_LIMIT)
                page = client.list_asset_events(name, limit=page_size, before_id=before)
                events.extend(page)
                if len(page) < page_size:
                    break
                before = page[-1]["id"]
    except TaskStateError as exc:
        fail(exc)
    if as_json:
        print_json(events)
        return
    console = stdout()
    if not events:
        console.print(f"asset {name!r} has no events")
        return
    title = f"{plural(len(events), 'event')} of asset {name!r}, newest first"
    table = Table(title=title, title_justify="left")
    for column in ("id", "timestamp", "source", "extra"):
        table.add_column(column)
    for event in events:
        extra = json.dumps(event["extra"], ensure_ascii=False)
        table.add_row(str(event["id"]), event["timestamp"], _source(event), extra)
    console.print(table)
