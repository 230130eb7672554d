"""``taskstate state clean``, ``state set --retention`` and the retention and provenance columns
of ``state list``: the installed command against a real API server, and the clean-up loop with
its progress bar in this process."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable, Iterator
from typing import Any, cast

import pytest
from rich.console import Console

from taskstate.api.server import EmbeddedServer
from taskstate.cli import clean
from taskstate.client.execution import ExecutionClient
from taskstate.client.public import PublicClient
from taskstate.contracts.scopes import AssetNamed, TaskInstanceId
from taskstate.state import BaseStateBackend

Cli = Callable[..., Any]  # tests/cli/conftest.py: run the command, get a Result

WORKER = "m.C"
BRIEF = 0.001


@pytest.fixture
def public(api_server: Any) -> Iterator[PublicClient]:
    with api_server.public() as client:
        yield client


@pytest.fixture
def remote(cli: Cli, api_server: Any) -> Cli:
    """The command pointed at the api_server fixture, in that server's home."""

    def run(*args: str) -> Any:
        return cli(*args, "--api-url", api_server.url, home=api_server.settings.home)

    return run


@pytest.fixture
def task(api_server: Any, public: PublicClient) -> Iterator[tuple[str, ExecutionClient]]:
    """A started task instance of ``etl/r1/t`` (reading asset ``orders``), and its client."""
    created = public.create_run(
        {
            "dag_id": "etl",
            "run_id": "r1",
            "tasks": [{"task_id": "t", "inlets": [{"name": "orders", "uri": "s3://o"}]}],
        }
    )
    ti_id = created["task_instances"][0]["id"]
    client = ExecutionClient(api_server.url, public.queue_task_instance(ti_id)["token"])
    yield ti_id, client
    client.close()


@pytest.fixture
def expired(task: tuple[str, ExecutionClient]) -> int:
    """Five expired keys, two of them references; how many."""
    ti_id, client = task
    for i in range(3):
        client.set_state(TaskInstanceId(ti_id), f"v{i}", b"1", None, retention=BRIEF)
    client.set_state(TaskInstanceId(ti_id), "r0", b"mem://0", WORKER, retention=BRIEF)
    client.set_state(AssetNamed("orders"), "r1", b"mem://1", WORKER, retention=BRIEF)
    client.set_state(TaskInstanceId(ti_id), "live", b"1", None)
    time.sleep(BRIEF + 0.002)  # the retention itself must run out
    return 5


def test_a_dry_run_says_what_would_go(expired: int, remote: Cli, public: PublicClient) -> None:
    result = remote("state", "clean", "--dry-run")
    assert result.code == 0, result.stderr
    assert result.stdout.strip() == "would remove 5 expired keys"
    as_json = json.loads(remote("state", "clean", "--dry-run", "--json").stdout)
    assert as_json == {
        "dry_run": True,
        "expired": 5,
        "removed": 0,
        "references_queued": 0,
        "batches": 0,
    }
    assert public.count_expired() == 5


def test_clean_removes_in_batches_and_queues_references(
    expired: int, remote: Cli, public: PublicClient
) -> None:
    result = remote("state", "clean", "--batch-size", "2", "--json")
    assert result.code == 0, result.stderr
    assert result.stderr == ""  # no progress bar on a pipe
    assert json.loads(result.stdout) == {
        "dry_run": False,
        "expired": 5,
        "removed": 5,
        "references_queued": 2,
        "batches": 3,
    }
    assert sorted(e["ref"] for e in public.list_purge_queue()) == ["mem://0", "mem://1"]
    again = remote("state", "clean")
    assert again.stdout.strip() == (
        "removed 0 expired keys in 1 batch; queued 0 references for `taskstate state purge`"
    )
    assert [e["key"] for e in public.list_task_state("etl", "r1", "t")] == ["live"]


@pytest.mark.parametrize("size", ["0", "100001", "x"])
def test_a_bad_batch_size_is_a_usage_error(size: str, remote: Cli) -> None:
    result = remote("state", "clean", "--batch-size", size)
    assert result.code == 2
    assert "--batch-size" in result.stderr


class NoExpiry(BaseStateBackend):
    """A server-side backend that keeps the interface's default: it cannot expire keys."""

    def get(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    set = delete = clear = aget = aset = adelete = aclear = get


def test_a_backend_that_cannot_expire(cli: Cli, make_settings: Callable[..., Any]) -> None:
    settings = make_settings(TASKSTATE__STATE_STORE__BACKEND=f"{__name__}.NoExpiry")
    with EmbeddedServer(settings) as server:
        result = cli("state", "clean", "--api-url", server.url, home=settings.home)
    assert result.code == 1
    assert result.error == "the state backend NoExpiry cannot remove expired keys"


# -- the loop and its progress bar, in this process ----------------------------------------------


def test_the_loop_reports_the_count_then_each_batch(expired: int, public: PublicClient) -> None:
    seen: list[tuple[str, int]] = []

    def progress(total: int) -> Callable[[int], None]:
        seen.append(("total", total))
        return lambda removed: seen.append(("batch", removed))

    summary = clean.clean_expired(public, batch_size=2, progress=progress)
    assert seen == [("total", 5), ("batch", 2), ("batch", 2), ("batch", 1)]
    assert (summary.removed, summary.references_queued, summary.batches) == (5, 2, 3)
    assert summary.line() == (
        "removed 5 expired keys in 3 batches; queued 2 references for `taskstate state purge`"
    )


class EndlessExpiry:
    """A server whose keys expire as fast as the clean-up removes them: every batch is full.

    A stand-in, since real keys cannot be made to expire at the clean-up's own pace."""

    def count_expired(self) -> int:
        return 5

    def clean_expired(self, *, batch_size: int) -> dict[str, int]:
        return {"removed": batch_size, "batch_size": batch_size, "references_queued": 0}


def test_the_loop_ends_once_the_counted_keys_are_gone() -> None:
    summary = clean.clean_expired(cast(PublicClient, EndlessExpiry()), batch_size=2)
    assert (summary.expired, summary.removed, summary.batches) == (5, 6, 3)


def test_a_terminal_gets_a_progress_bar(
    expired: int, public: PublicClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    screen = io.StringIO()
    terminal = Console(file=screen, force_terminal=True, width=100, color_system=None)
    monkeypatch.setattr(clean, "err", terminal)
    with clean._progress_bar() as bar:
        summary = clean.clean_expired(public, batch_size=2, progress=bar)
    assert summary.removed == 5
    assert "removing expired keys" in screen.getvalue()
    assert "5/5" in screen.getvalue()


# -- state set --retention, and the columns of state list ----------------------------------------


def test_set_with_a_retention(task: Any, remote: Cli, public: PublicClient) -> None:
    scope = ("--dag-id", "etl", "--run-id", "r1", "--task-id", "t")
    assert remote("state", "set", "hour", "1", *scope, "--retention", "3600").code == 0
    assert remote("state", "set", "kept", "1", *scope, "--retention", "never").code == 0
    assert remote("state", "set", "w", "1", "--asset", "orders", "--retention", "PT5M").code == 0
    listed = {e["key"]: e for e in public.list_task_state("etl", "r1", "t")}
    assert listed["hour"]["expires_at"] is not None
    assert listed["kept"]["expires_at"] is None
    assert public.get_asset_state("orders", "w")["expires_at"] is not None

    for bad, message in (
        ("0", "longer than zero"),
        ("1e12", "at most 100 years"),
        ("soon", "--retention takes a duration"),
    ):
        result = remote("state", "set", "k", "1", *scope, "--retention", bad)
        assert result.code == 2
        assert message in result.error
    assert "k" not in {e["key"] for e in public.list_task_state("etl", "r1", "t")}


def test_list_shows_the_expiry_and_the_writer(
    task: tuple[str, ExecutionClient], remote: Cli, public: PublicClient
) -> None:
    ti_id, client = task
    client.set_state(TaskInstanceId(ti_id), "by_task", b"1", None, retention=3600)
    public.set_task_state("etl", "r1", "t", "by_api", 2)
    table = remote("state", "list", "--dag-id", "etl")
    assert table.code == 0, table.stderr
    assert "expires" in table.stdout and "written by" in table.stdout
    rows = {line.split("│")[5].strip(): line for line in table.stdout.splitlines() if "│" in line}
    assert "etl/r1/t try 1" in rows["by_task"]
    assert public.get_task_state("etl", "r1", "t", "by_task")["expires_at"][:10] in rows["by_task"]
    assert rows["by_api"].rstrip(" │").endswith("api")
    as_json = json.loads(remote("state", "list", "--dag-id", "etl", "--json").stdout)
    writers = {e["key"]: e["written_by"] for e in as_json}
    assert writers == {
        "by_task": {
            "dag_id": "etl",
            "run_id": "r1",
            "task_id": "t",
            "map_index": -1,
            "try_number": 1,
        },
        "by_api": "api",
    }
