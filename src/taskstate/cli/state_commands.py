"""``taskstate state ...``: list, get, set, delete and clear task state and asset state.

A scope is chosen either with ``--dag-id/--run-id/--task-id [--map-index]`` (task state) or
with ``--asset NAME`` (asset state). ``list`` also accepts a partial task selector. ``purge``
(``taskstate.cli.purge``) and ``clean`` (``taskstate.cli.clean``) tidy storage. Encrypted values
are decrypted, or shown as encrypted, as :mod:`taskstate.cli.encrypted` says.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Annotated, Any

import typer
from rich.table import Table

from taskstate.cli.clean import clean_command
from taskstate.cli.common import (
    ApiKey,
    ApiUrl,
    api_client,
    command_group,
    fail,
    parse_duration,
    print_json,
    settings,
    stdout,
)
from taskstate.cli.encrypted import describe_encrypted, encrypt_for, keyring_of, reveal
from taskstate.cli.purge import purge_command
from taskstate.errors import InvalidRetentionError, TaskStateError, UsageError
from taskstate.state.provenance import describe_writer
from taskstate.state.retention import MAX_RETENTION, NEVER, NEVER_EXPIRE, Retention
from taskstate.state.types import AssetScope, StateScope, TaskScope

__all__ = ["app"]

app = command_group(help="Task state and asset state.")
app.command("clean")(clean_command)
app.command("purge")(purge_command)

DagId = Annotated[str | None, typer.Option("--dag-id", help="DAG of the task instance.")]
RunId = Annotated[str | None, typer.Option("--run-id", help="Run of the task instance.")]
TaskId = Annotated[str | None, typer.Option("--task-id", help="Task of the task instance.")]
MapIndex = Annotated[
    int | None, typer.Option("--map-index", help="Map index (-1, the default, if not mapped).")
]
AssetName = Annotated[str | None, typer.Option("--asset", help="Asset name (asset state).")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
Key = Annotated[str, typer.Argument(help="The state key.")]
IfVersion = Annotated[
    int | None,
    typer.Option(
        "--if-version",
        min=0,
        help="Only if KEY is at this version (0: only if it does not exist); see 'state get'.",
    ),
]


class _Scope:
    """The scope chosen on the command line."""

    def __init__(
        self,
        dag_id: str | None,
        run_id: str | None,
        task_id: str | None,
        map_index: int | None,
        asset: str | None,
        *,
        partial: bool = False,
    ) -> None:
        task_given = any(v is not None for v in (dag_id, run_id, task_id, map_index))
        if asset is not None and task_given:
            raise UsageError("choose either --asset or --dag-id/--run-id/--task-id, not both")
        if asset is None and dag_id is None:
            raise UsageError("choose a scope: --dag-id (with --run-id, --task-id) or --asset")
        if asset is None and not partial and (run_id is None or task_id is None):
            raise UsageError("task state needs --dag-id, --run-id and --task-id")
        self.asset = asset
        self.dag_id = dag_id or ""
        self.run_id = run_id
        self.task_id = task_id
        self.map_index = map_index

    @property
    def state_scope(self) -> StateScope:
        return AssetScope(self.asset) if self.asset is not None else TaskScope(*self.task)

    @property
    def task(self) -> tuple[str, str, str, int]:
        assert self.run_id is not None and self.task_id is not None
        map_index = -1 if self.map_index is None else self.map_index
        return self.dag_id, self.run_id, self.task_id, map_index


def _print_entries(entries: list[dict[str, Any]], asset: bool) -> None:
    owner_columns = ["asset"] if asset else ["dag_id", "run_id", "task_id", "map_index"]
    table = Table(show_lines=False)
    for column in (*owner_columns, "key", "value", "ref", "expires", "written by"):
        table.add_column(column)
    for entry in entries:
        value = "" if entry["ref"] is not None else json.dumps(entry["value"], ensure_ascii=False)
        if _still_encrypted(entry):
            value = describe_encrypted(entry)
        ref = "" if entry["ref"] is None else f"{entry['ref']} ({entry['backend']})"
        if entry["ref"] is not None and entry.get("encryption"):
            ref += f", {describe_encrypted(entry)}"
        table.add_row(
            *(str(entry[c]) for c in owner_columns),
            entry["key"],
            value,
            ref,
            entry.get("expires_at") or "",
            describe_writer(entry.get("written_by")),
        )
    console = stdout()
    if entries:
        console.print(table)
    else:
        console.print("no state stored")


@app.command("list")
def list_state(
    dag_id: DagId = None,
    run_id: RunId = None,
    task_id: TaskId = None,
    map_index: MapIndex = None,
    asset: AssetName = None,
    as_json: AsJson = False,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
) -> None:
    """List the keys of task instances (filtered by the options given) or of an asset."""
    try:
        scope = _Scope(dag_id, run_id, task_id, map_index, asset, partial=True)
        config = settings()
        keyring = keyring_of(config)
        with api_client(config, api_url, api_key) as (_, client):
            if scope.asset is not None:
                entries = client.list_asset_state(scope.asset)
            else:
                entries = client.list_task_state(
                    scope.dag_id, scope.run_id, scope.task_id, scope.map_index
                )
        entries = [reveal(entry, keyring, strict=False) for entry in entries]
    except TaskStateError as exc:
        fail(exc)
    if as_json:
        print_json(entries)
    else:
        _print_entries(entries, scope.asset is not None)


@app.command("get")
def get_state(
    key: Key,
    dag_id: DagId = None,
    run_id: RunId = None,
    task_id: TaskId = None,
    map_index: MapIndex = None,
    asset: AssetName = None,
    as_json: AsJson = False,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Print the value of KEY (or its reference, if a worker-side backend stored it)."""
    try:
        scope = _Scope(dag_id, run_id, task_id, map_index, asset)
        config = settings()
        keyring = keyring_of(config)
        with api_client(config, api_url, api_key) as (_, client):
            if scope.asset is not None:
                entry = client.get_asset_state(scope.asset, key)
            else:
                dag, run, task, index = scope.task
                entry = client.get_task_state(dag, run, task, key, index)
        entry = reveal(entry, keyring, strict=True)
    except TaskStateError as exc:
        fail(exc)
    if as_json:
        print_json(entry)
    elif entry["ref"] is not None:
        sealed = f", {describe_encrypted(entry)}" if entry.get("encryption") else ""
        print(f"reference {entry['ref']} (stored by {entry['backend']}{sealed})")
    elif _still_encrypted(entry):
        print(describe_encrypted(entry))
    else:
        print(json.dumps(entry["value"], ensure_ascii=False))


@app.command("set")
def set_state(
    key: Key,
    value: Annotated[str, typer.Argument(help='The value, as JSON: 42, "text", {"a": 1}.')],
    dag_id: DagId = None,
    run_id: RunId = None,
    task_id: TaskId = None,
    map_index: MapIndex = None,
    asset: AssetName = None,
    retention: Annotated[
        str | None,
        typer.Option(
            "--retention",
            help="How long KEY stays visible: seconds, HH:MM:SS or ISO 8601 (P30D), or 'never'; "
            "default [state_store] default_retention_days.",
        ),
    ] = None,
    if_version: IfVersion = None,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Store VALUE (JSON text) for KEY."""
    try:
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError as exc:
            raise UsageError(
                f"VALUE must be JSON ({exc}); quote a string as JSON, e.g. '\"{value}\"'"
            ) from exc
        except RecursionError as exc:
            raise UsageError("VALUE is nested too deeply to be stored") from exc
        except ValueError as exc:  # an integer of more than 4,300 digits
            raise UsageError(f"VALUE cannot be read: {exc}") from exc
        scope = _Scope(dag_id, run_id, task_id, map_index, asset)
        keep = _retention(retention)
        config = settings()
        keyring = keyring_of(config)
        key_id = None
        if keyring is not None:  # encrypted here, as a task would: the server sees ciphertext
            key_id, parsed = encrypt_for(keyring, scope.state_scope, key, parsed)
        with api_client(config, api_url, api_key) as (_, client):
            if scope.asset is not None:
                answer = client.set_asset_state(
                    scope.asset,
                    key,
                    parsed,
                    retention=keep,
                    if_version=if_version,
                    encryption=key_id,
                )
            else:
                dag, run, task, index = scope.task
                answer = client.set_task_state(
                    dag,
                    run,
                    task,
                    key,
                    parsed,
                    index,
                    retention=keep,
                    if_version=if_version,
                    encryption=key_id,
                )
    except TaskStateError as exc:
        fail(exc)
    version = answer.get("version") if isinstance(answer, dict) else None
    notes = [] if not version else [f"version {version}"]
    if key_id is not None:
        notes.append(f"encrypted with key {key_id}")
    print(f"set {key!r}" + (f" ({', '.join(notes)})" if notes else ""))


@app.command("delete")
def delete_state(
    key: Key,
    dag_id: DagId = None,
    run_id: RunId = None,
    task_id: TaskId = None,
    map_index: MapIndex = None,
    asset: AssetName = None,
    if_version: IfVersion = None,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Delete KEY."""
    try:
        scope = _Scope(dag_id, run_id, task_id, map_index, asset)
        with api_client(settings(), api_url, api_key) as (_, client):
            if scope.asset is not None:
                answer = client.delete_asset_state(scope.asset, key, if_version=if_version)
            else:
                dag, run, task, index = scope.task
                answer = client.delete_task_state(dag, run, task, key, index, if_version=if_version)
    except TaskStateError as exc:
        fail(exc)
    print(f"deleted {key!r}" if answer["deleted"] else f"{key!r} was not set")


@app.command("clear")
def clear_state(
    dag_id: DagId = None,
    run_id: RunId = None,
    task_id: TaskId = None,
    map_index: MapIndex = None,
    asset: AssetName = None,
    all_map_indices: Annotated[
        bool, typer.Option("--all-map-indices", help="Clear every map index of the task.")
    ] = False,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Delete every key of a task instance or of an asset."""
    try:
        scope = _Scope(dag_id, run_id, task_id, map_index, asset)
        if scope.asset is not None and all_map_indices:
            raise UsageError("--all-map-indices clears task state; it cannot go with --asset")
        with api_client(settings(), api_url, api_key) as (_, client):
            if scope.asset is not None:
                client.clear_asset_state(scope.asset)
                what = f"asset {scope.asset!r}"
            else:
                dag, run, task, index = scope.task
                client.clear_task_state(dag, run, task, index, all_map_indices=all_map_indices)
                what = f"{dag}/{run}/{task}"
    except TaskStateError as exc:
        fail(exc)
    print(f"cleared {what}")


def _still_encrypted(entry: dict[str, Any]) -> bool:
    return entry["ref"] is None and bool(entry.get("encryption")) and not entry.get("decrypted")


def _retention(text: str | None) -> Retention:
    if text is None:
        return None
    if text.strip().lower() == NEVER:
        return NEVER_EXPIRE
    value = parse_duration(text, "--retention")
    if not timedelta(0) < value <= MAX_RETENTION:
        # Said here in the option's words, before any server is reached.
        raise InvalidRetentionError(
            f"--retention must be longer than zero and at most 100 years, got {text!r}; "
            "use --retention never to keep the key until it is deleted"
        )
    return value
