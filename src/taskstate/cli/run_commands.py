"""``taskstate runs ...``: list DAG runs and delete them with their state."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from taskstate.cli.common import (
    ApiKey,
    ApiUrl,
    api_client,
    command_group,
    fail,
    print_json,
    settings,
    stdout,
)
from taskstate.errors import TaskStateError

__all__ = ["app"]

app = command_group(help="DAG runs.")


@app.command("list")
def list_runs(
    dag_id: Annotated[str | None, typer.Option("--dag-id", help="Only this DAG's runs.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
) -> None:
    """List DAG runs, oldest first."""
    try:
        with api_client(settings(), api_url, api_key) as (_, client):
            listed = client.list_runs(dag_id)
    except TaskStateError as exc:
        fail(exc)
    if as_json:
        print_json(listed)
        return
    console = stdout()
    if not listed:
        console.print("no DAG runs")
        return
    table = Table()
    for column in ("dag_id", "run_id", "state", "created_at"):
        table.add_column(column)
    for run in listed:
        table.add_row(run["dag_id"], run["run_id"], run["state"], str(run.get("created_at")))
    console.print(table)


@app.command("delete")
def delete_run(
    dag_id: Annotated[str, typer.Option("--dag-id", help="DAG of the run.")],
    run_id: Annotated[str, typer.Option("--run-id", help="The run to delete.")],
    force: Annotated[
        bool,
        typer.Option(
            "--force",
            help="Delete even if tries are marked queued or running (e.g. their runner died).",
        ),
    ] = False,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Delete a DAG run with its task instances and their task state.

    Objects a worker-side backend stored for that state are queued for purging: run
    `taskstate state purge` where the worker backend is configured.
    """
    try:
        with api_client(settings(), api_url, api_key) as (_, client):
            answer = client.delete_run(dag_id, run_id, force=force)
    except TaskStateError as exc:
        fail(exc)
    queued = answer["references_queued"]
    tail = f"; {queued} object(s) queued for `taskstate state purge`" if queued else ""
    print(f"deleted run {run_id!r} of {dag_id!r} ({answer['task_instances']} task instances){tail}")
