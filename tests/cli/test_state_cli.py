"""``taskstate state list/get/set/delete/clear``: the installed command, run as a subprocess.

Most tests point the command at the ``api_server`` fixture with ``--api-url`` (and that
server's home, so the command finds the API key file); a few run it without ``--api-url``, so
it starts its own embedded server over the home's database.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from taskstate.api.keys import client_api_key
from taskstate.api.server import EmbeddedServer
from taskstate.client.execution import ExecutionClient
from taskstate.client.public import PublicClient
from taskstate.contracts.scopes import TaskInstanceId

Cli = Callable[..., Any]  # tests/cli/conftest.py: run the command, get a Result

ORDERS = {"name": "orders", "uri": "s3://lake/orders"}
LONG_VALUE = "v" * 300  # wider than any terminal: must not be cut when printed to a pipe
ENTRY_FIELDS = {"dag_id", "run_id", "task_id", "map_index", "key", "value", "ref"}


@pytest.fixture
def public(api_server: Any) -> Iterator[PublicClient]:
    with api_server.public() as client:
        yield client


@pytest.fixture
def populated(api_server: Any, public: PublicClient) -> Any:
    """etl/r1: submit (two keys and a reference), fan[0] and fan[1], load (reads orders)."""
    created = public.create_run(
        {
            "dag_id": "etl",
            "run_id": "r1",
            "tasks": [
                {"task_id": "submit"},
                {"task_id": "fan", "map_index": 0},
                {"task_id": "fan", "map_index": 1},
                {"task_id": "load", "inlets": [ORDERS]},
            ],
        }
    )
    public.set_task_state("etl", "r1", "submit", "job", {"id": "j-1", "tries": [1, 2]})
    public.set_task_state("etl", "r1", "submit", "long", LONG_VALUE)
    public.set_task_state("etl", "r1", "fan", "part", 0, map_index=0)
    public.set_task_state("etl", "r1", "fan", "part", 1, map_index=1)
    public.set_asset_state("orders", "watermark", "2026-01-01")
    submit = next(ti for ti in created["task_instances"] if ti["task_id"] == "submit")
    client = ExecutionClient(api_server.url, public.queue_task_instance(submit["id"])["token"])
    try:
        client.set_state(TaskInstanceId(submit["id"]), "blob", b"mem://x", "m.C")
    finally:
        client.close()
    return api_server


@pytest.fixture
def remote(cli: Cli, api_server: Any) -> Cli:
    """The command pointed at the api_server fixture, in that server's home."""

    def run(*args: str, **kwargs: Any) -> Any:
        kwargs.setdefault("home", api_server.settings.home)
        return cli(*args, "--api-url", api_server.url, **kwargs)

    return run


# -- list -------------------------------------------------------------------------------------


def test_list_json_is_an_array_of_entries(populated: Any, remote: Cli) -> None:
    result = remote("state", "list", "--dag-id", "etl", "--json")
    assert result.code == 0, result.stderr
    assert result.stderr == ""
    entries = json.loads(result.stdout)
    assert isinstance(entries, list)
    for entry in entries:
        assert set(entry) >= ENTRY_FIELDS
    rows = {(e["task_id"], e["map_index"], e["key"]): (e["value"], e["ref"]) for e in entries}
    assert rows == {
        ("fan", 0, "part"): (0, None),
        ("fan", 1, "part"): (1, None),
        ("submit", -1, "blob"): (None, "mem://x"),
        ("submit", -1, "job"): ({"id": "j-1", "tries": [1, 2]}, None),
        ("submit", -1, "long"): (LONG_VALUE, None),
    }
    blob = next(e for e in entries if e["key"] == "blob")
    assert blob["backend"] == "m.C"
    assert all((e["dag_id"], e["run_id"]) == ("etl", "r1") for e in entries)


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        (["--run-id", "r1"], {("fan", 0), ("fan", 1), ("submit", -1)}),
        (["--run-id", "r1", "--task-id", "fan"], {("fan", 0), ("fan", 1)}),
        (["--task-id", "fan", "--map-index", "1"], {("fan", 1)}),
        (["--run-id", "other"], set()),
    ],
)
def test_list_with_a_partial_selector(
    selector: list[str], expected: set[tuple[str, int]], populated: Any, remote: Cli
) -> None:
    result = remote("state", "list", "--dag-id", "etl", *selector, "--json")
    assert result.code == 0, result.stderr
    assert {(e["task_id"], e["map_index"]) for e in json.loads(result.stdout)} == expected


def test_list_asset_json(populated: Any, remote: Cli) -> None:
    result = remote("state", "list", "--asset", "orders", "--json")
    assert result.code == 0, result.stderr
    (entry,) = json.loads(result.stdout)
    assert {"asset", "key", "value", "ref"} <= set(entry)
    assert (entry["asset"], entry["key"], entry["value"], entry["ref"]) == (
        "orders",
        "watermark",
        "2026-01-01",
        None,
    )


def test_list_as_a_table(populated: Any, remote: Cli) -> None:
    result = remote("state", "list", "--dag-id", "etl", "--run-id", "r1", "--task-id", "submit")
    assert result.code == 0, result.stderr
    for column in ("dag_id", "run_id", "task_id", "map_index", "key", "value", "ref"):
        assert column in result.stdout
    assert '{"id": "j-1", "tries": [1, 2]}' in result.stdout
    assert json.dumps(LONG_VALUE) in result.stdout  # whole, though stdout is a pipe
    assert "mem://x (m.C)" in result.stdout


def test_list_prints_keys_and_values_as_they_are(
    populated: Any, public: PublicClient, remote: Cli
) -> None:
    # Square brackets are rich markup; they must not be swallowed.
    public.set_task_state("etl", "r1", "fan", "[bold]k[/bold]", "[red]v", map_index=0)
    result = remote("state", "list", "--dag-id", "etl", "--task-id", "fan", "--map-index", "0")
    assert result.code == 0, result.stderr
    assert "[bold]k[/bold]" in result.stdout
    assert '"[red]v"' in result.stdout


def test_list_nothing(populated: Any, remote: Cli) -> None:
    result = remote("state", "list", "--dag-id", "nothing-here")
    assert result.code == 0
    assert result.stdout.strip() == "no state stored"
    as_json = remote("state", "list", "--dag-id", "nothing-here", "--json")
    assert json.loads(as_json.stdout) == []


# -- get, set, delete, clear ------------------------------------------------------------------

SUBMIT = ("--dag-id", "etl", "--run-id", "r1", "--task-id", "submit")


def test_get(populated: Any, remote: Cli) -> None:
    result = remote("state", "get", "job", *SUBMIT)
    assert result.code == 0, result.stderr
    assert json.loads(result.stdout) == {"id": "j-1", "tries": [1, 2]}

    as_json = remote("state", "get", "job", *SUBMIT, "--json")
    entry = json.loads(as_json.stdout)
    assert entry.pop("version") > 0
    assert entry == {
        "dag_id": "etl",
        "run_id": "r1",
        "task_id": "submit",
        "map_index": -1,
        "key": "job",
        "value": {"id": "j-1", "tries": [1, 2]},
        "ref": None,
        "backend": None,
        "expires_at": None,
        "written_by": "api",
    }

    ref = remote("state", "get", "blob", *SUBMIT)
    assert ref.stdout.strip() == "reference mem://x (stored by m.C)"

    mapped = remote("state", "get", "part", *SUBMIT[:4], "--task-id", "fan", "--map-index", "1")
    assert mapped.stdout.strip() == "1"

    asset = remote("state", "get", "watermark", "--asset", "orders")
    assert json.loads(asset.stdout) == "2026-01-01"


def test_get_a_missing_key(populated: Any, remote: Cli) -> None:
    result = remote("state", "get", "nope", *SUBMIT)
    assert result.code == 2
    assert result.stdout == ""
    assert result.error == "etl/r1/submit has no key 'nope'"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("42", 42),
        ('"text"', "text"),
        ('{"a": [1, 2.5, true]}', {"a": [1, 2.5, True]}),
        ('"ünïcødé 🔑"', "ünïcødé 🔑"),
    ],
)
def test_set(text: str, value: Any, populated: Any, public: PublicClient, remote: Cli) -> None:
    result = remote("state", "set", "new", text, *SUBMIT)
    assert result.code == 0, result.stderr
    got = public.get_task_state("etl", "r1", "submit", "new")
    assert result.stdout.strip() == f"set 'new' (version {got['version']})"
    assert got["value"] == value


def test_set_and_delete_if_version(populated: Any, public: PublicClient, remote: Cli) -> None:
    version = public.get_task_state("etl", "r1", "submit", "job")["version"]
    stale = remote("state", "set", "job", "1", *SUBMIT, "--if-version", str(version + 1))
    assert stale.code == 2 and f"expected it to be at version {version + 1}" in stale.stderr
    assert remote("state", "set", "job", "2", *SUBMIT, "--if-version", str(version)).code == 0
    assert remote("state", "set", "job", "3", *SUBMIT, "--if-version", "0").code == 2
    created = remote("state", "set", "fresh", "4", *SUBMIT, "--if-version", "0")
    assert created.code == 0, created.stderr
    newer = public.get_task_state("etl", "r1", "submit", "job")["version"]
    assert remote("state", "delete", "job", *SUBMIT, "--if-version", str(version)).code == 2
    assert remote("state", "delete", "job", *SUBMIT, "--if-version", str(newer)).code == 0
    assert public.get_task_state("etl", "r1", "submit", "fresh")["value"] == 4


def test_set_asset_state_and_keys_with_slashes(
    populated: Any, public: PublicClient, remote: Cli
) -> None:
    result = remote("state", "set", "a/b/../c", "[1]", "--asset", "orders")
    assert result.code == 0, result.stderr
    assert public.get_asset_state("orders", "a/b/../c")["value"] == [1]


@pytest.mark.parametrize("text", ["not-json", "{'a': 1}", "null", "NaN", ""])
def test_set_an_invalid_value(text: str, populated: Any, public: PublicClient, remote: Cli) -> None:
    result = remote("state", "set", "job", text, *SUBMIT)
    assert result.code == 2, result.stderr
    assert result.stdout == ""
    assert result.error  # a message after "error:"
    assert public.get_task_state("etl", "r1", "submit", "job")["value"] == {
        "id": "j-1",
        "tries": [1, 2],
    }


def test_set_suggests_quoting_a_bare_string(populated: Any, remote: Cli) -> None:
    result = remote("state", "set", "job", "hello", *SUBMIT)
    assert result.code == 2
    assert "VALUE must be JSON" in result.error
    assert "'\"hello\"'" in result.error


def test_delete_and_clear(populated: Any, public: PublicClient, remote: Cli) -> None:
    deleted = remote("state", "delete", "job", *SUBMIT)
    assert (deleted.code, deleted.stdout.strip()) == (0, "deleted 'job'")
    again = remote("state", "delete", "job", *SUBMIT)
    assert (again.code, again.stdout.strip()) == (0, "'job' was not set")
    assert {e["key"] for e in public.list_task_state("etl", "r1", "submit")} == {"long", "blob"}

    cleared = remote("state", "clear", *SUBMIT)
    assert (cleared.code, cleared.stdout.strip()) == (0, "cleared etl/r1/submit")
    assert public.list_task_state("etl", "r1", "submit") == []
    assert len(public.list_task_state("etl", "r1", "fan")) == 2

    fan = ("--dag-id", "etl", "--run-id", "r1", "--task-id", "fan")
    all_indices = remote("state", "clear", *fan, "--map-index", "0", "--all-map-indices")
    assert all_indices.code == 0, all_indices.stderr
    assert public.list_task_state("etl", "r1", "fan") == []

    asset = remote("state", "clear", "--asset", "orders")
    assert (asset.code, asset.stdout.strip()) == (0, "cleared asset 'orders'")
    assert public.list_asset_state("orders") == []


# -- exit codes -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["list"], "choose a scope"),
        (["list", "--run-id", "r1"], "choose a scope"),
        (["list", "--asset", "orders", "--dag-id", "etl"], "not both"),
        (["get", "job", "--dag-id", "etl"], "needs --dag-id, --run-id and --task-id"),
        (["get", "job", "--dag-id", "etl", "--run-id", "r1"], "needs --dag-id"),
        (["delete", "job", "--asset", "orders", "--task-id", "t"], "not both"),
        (["clear"], "choose a scope"),
        (["clear", "--asset", "orders", "--all-map-indices"], "--all-map-indices"),
    ],
)
def test_a_bad_selector_is_a_usage_error(
    args: list[str], message: str, populated: Any, public: PublicClient, remote: Cli
) -> None:
    result = remote("state", *args)
    assert result.code == 2
    assert result.stdout == ""
    assert message in result.error
    assert public.list_asset_state("orders") != []


def test_an_unknown_option_is_a_usage_error(remote: Cli) -> None:
    result = remote("state", "list", "--dag-id", "etl", "--map-index", "first")
    assert result.code == 2
    assert "--map-index" in result.stderr


def test_a_missing_task_instance_is_reported(populated: Any, remote: Cli) -> None:
    result = remote("state", "set", "k", "1", "--dag-id", "etl", "--run-id", "r1", "--task-id", "x")
    assert result.code == 2
    assert result.error == "no task instance etl/r1/x"


def test_an_unknown_asset_is_reported(populated: Any, remote: Cli) -> None:
    result = remote("state", "list", "--asset", "nope")
    assert result.code == 2
    assert result.error == "no asset with name 'nope'"


def test_an_unreachable_server_is_a_runtime_error(cli: Cli) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = cli(
        "state",
        "list",
        "--dag-id",
        "etl",
        "--api-url",
        f"http://127.0.0.1:{port}",
        env={"TASKSTATE__API__CLIENT_RETRY_SECONDS": "0"},
    )
    assert result.code == 1
    assert result.error.startswith(f"cannot reach the API server at http://127.0.0.1:{port}")


def test_a_wrong_api_key_is_refused(populated: Any, cli: Cli, cli_home: Path) -> None:
    wrong = cli_home / "wrong_key"
    wrong.write_text("wrong\n")
    result = cli(
        "state", "list", "--dag-id", "etl", "--api-url", populated.url, "--api-key-file", wrong
    )
    assert result.code == 1
    assert result.error == "invalid API key"


def test_api_key_and_url_from_the_environment(populated: Any, cli: Cli, cli_home: Path) -> None:
    # A home of its own: the key comes from TASKSTATE_API_KEY, not from the server's home.
    result = cli(
        "state",
        "get",
        "job",
        *SUBMIT,
        env={"TASKSTATE_API_URL": populated.url, "TASKSTATE_API_KEY": populated.api_key},
    )
    assert result.code == 0, result.stderr
    assert json.loads(result.stdout)["id"] == "j-1"
    key_file = cli_home / "key"
    key_file.write_text(populated.api_key)
    from_file = cli(
        "state",
        "get",
        "job",
        *SUBMIT,
        env={"TASKSTATE_API_URL": populated.url, "TASKSTATE_API_KEY_FILE": str(key_file)},
    )
    assert from_file.code == 0, from_file.stderr
    explicit = cli(
        "state", "get", "job", *SUBMIT, "--api-url", populated.url, "--api-key-file", key_file
    )
    assert explicit.code == 0, explicit.stderr


@pytest.mark.parametrize("given", [["--api-key", "k"], ["--api-key=k"]])
def test_a_key_on_the_command_line_is_refused(
    populated: Any, cli: Cli, cli_home: Path, given: list[str]
) -> None:
    # Every local user can read a command line (ps, /proc/PID/cmdline): the key is not used.
    result = cli("state", "list", "--dag-id", "etl", "--api-url", populated.url, *given)
    assert result.code == 2
    assert result.error.startswith("--api-key is not accepted: a command line is readable")
    assert "--api-key-file" in result.error and "TASKSTATE_API_KEY" in result.error


def test_a_missing_api_key_file_is_a_config_error(populated: Any, cli: Cli, cli_home: Path) -> None:
    missing = cli_home / "no_such_key"
    result = cli(
        "state", "list", "--dag-id", "etl", "--api-url", populated.url, "--api-key-file", missing
    )
    assert result.code == 2
    assert result.error.startswith(f"cannot read the API key file '{missing}'")


# -- without --api-url: an embedded server over the home's database ----------------------------


def test_the_embedded_server_uses_the_homes_database(
    make_settings: Callable[..., Any], cli: Cli
) -> None:
    settings = make_settings()
    with (
        EmbeddedServer(settings) as server,
        PublicClient(server.url, client_api_key(settings)) as public,
    ):
        public.create_run(
            {"dag_id": "etl", "run_id": "r1", "tasks": [{"task_id": "submit", "inlets": [ORDERS]}]}
        )
    home = settings.home

    assert cli("state", "set", "job", '{"id": 7}', *SUBMIT, home=home).code == 0
    assert cli("state", "set", "mark", '"m"', "--asset", "orders", home=home).code == 0

    listed = cli("state", "list", "--dag-id", "etl", "--json", home=home)
    assert listed.code == 0, listed.stderr
    (entry,) = json.loads(listed.stdout)
    assert (entry["task_id"], entry["key"], entry["value"], entry["ref"]) == (
        "submit",
        "job",
        {"id": 7},
        None,
    )

    cleared = cli("state", "clear", *SUBMIT, home=home)
    assert cleared.code == 0, cleared.stderr

    # What the commands did is in the database, seen by a server started afterwards.
    with (
        EmbeddedServer(settings) as server,
        PublicClient(server.url, client_api_key(settings)) as public,
    ):
        assert public.list_task_state("etl") == []
        assert public.get_asset_state("orders", "mark")["value"] == "m"


def test_the_embedded_server_reports_errors_like_a_remote_one(cli: Cli) -> None:
    result = cli("state", "get", "k", *SUBMIT)
    assert result.code == 2
    assert result.error == "no task instance etl/r1/submit"
