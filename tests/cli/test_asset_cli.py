"""``taskstate assets list`` and ``taskstate assets events NAME``: the installed command, run as
a subprocess, against a real server (``--api-url``) or its own embedded one."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import pytest

from taskstate.api.keys import client_api_key
from taskstate.api.server import EmbeddedServer
from taskstate.client.execution import ExecutionClient
from taskstate.client.public import PublicClient

Cli = Callable[..., Any]  # tests/cli/conftest.py: run the command, get a Result

LAKE = {"name": "lake", "uri": "s3://lake/tables"}
QUIET = {"name": "quiet", "uri": "s3://lake/quiet"}


def record(url: str, public: PublicClient, run_id: str, extras: list[dict[str, Any]]) -> None:
    """A run whose task writes lake (recording ``extras``) and reads quiet."""
    created = public.create_run(
        {
            "dag_id": "producer",
            "run_id": run_id,
            "tasks": [{"task_id": "make", "map_index": 0, "outlets": [LAKE], "inlets": [QUIET]}],
        }
    )
    ti_id = created["task_instances"][0]["id"]
    client = ExecutionClient(url, public.queue_task_instance(ti_id)["token"])
    try:
        client.start(ti_id, pid=os.getpid(), hostname="test")
        events = [("lake", json.dumps(extra).encode()) for extra in extras]
        client.record_asset_events(ti_id, events)
        client.finish(ti_id, "success")
    finally:
        client.close()


@pytest.fixture
def populated(api_server: Any) -> Any:
    with api_server.public() as public:
        record(api_server.url, public, "r1", [{"n": 1}])
        record(api_server.url, public, "r2", [{"n": 2}, {"n": 3, "note": "é"}])
    return api_server


@pytest.fixture
def remote(cli: Cli, api_server: Any) -> Cli:
    def run(*args: str, **kwargs: Any) -> Any:
        kwargs.setdefault("home", api_server.settings.home)
        return cli(*args, "--api-url", api_server.url, **kwargs)

    return run


def test_list_json(populated: Any, remote: Cli) -> None:
    result = remote("assets", "list", "--json")
    assert result.code == 0, result.stderr
    lake, quiet = json.loads(result.stdout)
    assert (lake["name"], lake["uri"], lake["events"]) == ("lake", "s3://lake/tables", 3)
    assert lake["last_event_at"].endswith("+00:00")
    assert quiet == {**QUIET, "events": 0, "last_event_at": None}


def test_list_as_a_table(populated: Any, remote: Cli) -> None:
    result = remote("assets", "list")
    assert result.code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert any("lake" in line and "s3://lake/tables" in line and " 3 " in line for line in lines)
    assert any("quiet" in line and " 0 " in line for line in lines)


def test_events_json_newest_first(populated: Any, remote: Cli) -> None:
    result = remote("assets", "events", "lake", "--json")
    assert result.code == 0, result.stderr
    events = json.loads(result.stdout)
    assert [e["extra"] for e in events] == [{"n": 3, "note": "é"}, {"n": 2}, {"n": 1}]
    assert [e["source_run_id"] for e in events] == ["r2", "r2", "r1"]
    assert (events[0]["source_dag_id"], events[0]["source_task_id"]) == ("producer", "make")
    assert events[0]["source_map_index"] == 0


def test_events_limit(populated: Any, remote: Cli) -> None:
    result = remote("assets", "events", "lake", "--limit", "2", "--json")
    assert [e["extra"]["n"] for e in json.loads(result.stdout)] == [3, 2]
    assert remote("assets", "events", "lake", "--limit", "0").code == 2


def test_events_as_a_table(populated: Any, remote: Cli) -> None:
    result = remote("assets", "events", "lake")
    assert result.code == 0, result.stderr
    assert "3 events of asset 'lake', newest first" in result.stdout
    assert "producer / r2 / make[0]" in result.stdout
    assert '{"n": 3, "note": "é"}' in result.stdout


def test_an_asset_without_events(populated: Any, remote: Cli) -> None:
    result = remote("assets", "events", "quiet")
    assert (result.code, result.stdout.strip()) == (0, "asset 'quiet' has no events")
    assert remote("assets", "events", "quiet", "--json").stdout.strip() == "[]"


def test_an_unknown_asset_is_a_usage_error(populated: Any, remote: Cli) -> None:
    result = remote("assets", "events", "nowhere")
    assert result.code == 2
    assert result.error == "no asset with name 'nowhere'"


def test_no_assets(cli: Cli) -> None:
    result = cli("assets", "list")  # the embedded server over a fresh home
    assert (result.code, result.stdout.strip()) == (0, "no assets")


def test_the_embedded_server_reads_the_homes_database(
    make_settings: Callable[..., Any], cli: Cli
) -> None:
    settings = make_settings()
    with (
        EmbeddedServer(settings) as server,
        PublicClient(server.url, client_api_key(settings)) as public,
    ):
        record(server.url, public, "r1", [{"from": "before"}])
    result = cli("assets", "events", "lake", "--json", home=settings.home)
    assert result.code == 0, result.stderr
    assert [e["extra"] for e in json.loads(result.stdout)] == [{"from": "before"}]


def test_help_names_the_commands(cli: Cli) -> None:
    result = cli("assets", "--help")
    assert result.code == 0
    assert "list" in result.stdout and "events" in result.stdout
