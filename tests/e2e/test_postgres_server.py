"""``taskstate api-server --workers 2`` over one PostgreSQL database, with several
``taskstate dags test --api-url`` runs at once: two DAGs, several runs of each, every task
declaring one shared asset (tests/e2e/dags/concurrent.py). Every task instance's state must
hold exactly what that instance wrote, and both worker processes must have served state."""

from __future__ import annotations

import os
import secrets
import signal
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from taskstate.testing.postgres import temporary_database

from .conftest import DAGS, SERVER_LISTENING, WORKER_STARTED, Cli, Result, ServerProcess

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

DAG = DAGS / "concurrent.py"
WRITES = 20  # as in the DAG file
TASKS = {
    "e2e_concurrent_a": [("extract", -1), ("part", 0), ("part", 1), ("report", -1)],
    "e2e_concurrent_b": [("load", -1), ("publish", -1)],
}
RUNS = [
    ("e2e_concurrent_a", "a-1"),
    ("e2e_concurrent_a", "a-2"),
    ("e2e_concurrent_a", "a-3"),
    ("e2e_concurrent_b", "b-1"),
    ("e2e_concurrent_b", "b-2"),
]


@dataclass
class Served:
    server: ServerProcess
    home: Path
    workers: set[int]
    """The pids of the processes that reported their application started."""
    runs: dict[tuple[str, str], Result]
    remote: Callable[..., Result]
    """``taskstate ARGS --api-url URL --api-key-file FILE``, against the server."""


@pytest.fixture(scope="module")
def served(make_cli: Callable[..., Cli]) -> Iterator[Served]:
    # An empty database: the server's parent process migrates it before its workers start.
    with temporary_database() as url:
        cli = make_cli("pg-server", {"TASKSTATE__DATABASE__URL": url})
        # Port 0: the parent binds a free port and prints it; the workers share its socket.
        with cli.api_server("--workers", "2", "--port", "0", "--access-log") as server:
            [listening] = server.wait_for(SERVER_LISTENING)
            started = server.wait_for(WORKER_STARTED, 2)
            api = ("--api-url", listening[1], "--api-key-file", str(cli.home / "api_key"))
            clients = make_cli("pg-clients")  # a home of its own; everything goes to the server

            def run(dag_run: tuple[str, str]) -> Result:
                dag_id, run_id = dag_run
                return clients.dags_test(
                    DAG, "--dag-id", dag_id, "--run-id", run_id, "--parallelism", "3", *api
                )

            with ThreadPoolExecutor(len(RUNS)) as pool:
                runs = dict(zip(RUNS, pool.map(run, RUNS), strict=True))
            yield Served(
                server,
                cli.home,
                {int(match[1]) for match in started},
                runs,
                lambda *args: clients.run(*args, *api),
            )


def _owner(dag_id: str, run_id: str, task_id: str, map_index: int) -> str:
    return f"{dag_id}/{run_id}/{task_id}/{map_index}"


def test_every_run_succeeds(served: Served) -> None:
    for (dag_id, _), run in served.runs.items():
        assert run.code == 0, str(run)
        expected = {
            f"{task}[{index}]" if index >= 0 else task: ("success", 1)
            for task, index in TASKS[dag_id]
        }
        assert run.summary() == expected, str(run)


@pytest.mark.parametrize("dag_id", sorted(TASKS))
def test_every_task_instance_holds_exactly_what_it_wrote(served: Served, dag_id: str) -> None:
    entries = served.remote("state", "list", "--dag-id", dag_id, "--json").json()
    found: dict[str, dict[str, Any]] = {}
    for entry in entries:
        scope = _owner(dag_id, entry["run_id"], entry["task_id"], entry["map_index"])
        found.setdefault(scope, {})[entry["key"]] = entry["value"]
    run_ids = [run_id for dag, run_id in RUNS if dag == dag_id]
    expected = {
        _owner(dag_id, run_id, task, index): {
            "owner": _owner(dag_id, run_id, task, index),
            "count": WRITES,
        }
        for run_id in run_ids
        for task, index in TASKS[dag_id]
    }
    assert found == expected


def test_the_shared_asset_holds_one_key_per_task_instance(served: Served) -> None:
    entries = served.remote("state", "list", "--asset", "e2e_shared", "--json").json()
    expected = {
        _owner(dag_id, run_id, task, index): WRITES
        for dag_id, run_id in RUNS
        for task, index in TASKS[dag_id]
    }
    assert {entry["key"]: entry["value"] for entry in entries} == expected


def test_both_workers_served_state_requests(served: Served) -> None:
    parent = served.server.proc.pid
    assert len(served.workers) == 2
    assert parent not in served.workers
    for pid in served.workers:  # children of the server process
        stat = Path(f"/proc/{pid}/stat").read_text()
        assert int(stat.rpartition(")")[2].split()[1]) == parent
    # The access log: "[pid] INFO:     127.0.0.1:port - "PUT /execution/state/..." 204"
    state_requests = served.server.matches(r'^\[(\d+)\] INFO: .* "\w+ /execution/state/')
    assert {int(match[1]) for match in state_requests} == served.workers


def test_sigterm_stops_the_workers_then_the_parent(served: Served) -> None:
    assert served.server.stop(signal.SIGTERM) == 0
    assert served.server.matches("Traceback|ERROR") == []
    for pid in served.workers:
        assert served.server.matches(rf"^\[{pid}\] INFO: +Finished server process \[{pid}\]")
    [last] = served.server.lines[-1:]
    assert last.endswith(f"Stopping parent process [{served.server.proc.pid}]")


SERVE = """
import sys
from pathlib import Path

from taskstate.api.server import serve
from taskstate.config import Settings

home, url, key_file = sys.argv[1:]
key = Path(key_file).read_text()
settings = Settings(home=home, database={"url": url}, api={"api_keys": [key]})
serve(settings, port=0, workers=2, access_log=True)
"""
"""Settings built in code, from no environment variable and no file the workers could read."""


def test_the_workers_serve_with_the_settings_their_parent_built(tmp_path: Path) -> None:
    key = secrets.token_urlsafe(24)
    (tmp_path / "key").write_text(key)
    env = {k: v for k, v in os.environ.items() if not k.startswith("TASKSTATE")}
    with temporary_database() as url:
        argv = [sys.executable, "-c", SERVE, str(tmp_path / "home"), url, str(tmp_path / "key")]
        server = ServerProcess(argv, env, tmp_path)
        try:
            [listening] = server.wait_for(SERVER_LISTENING)
            workers = {int(match[1]) for match in server.wait_for(WORKER_STARTED, 2)}
            # The key reached the workers, pickled through their start-up pipe ...
            with httpx.Client(base_url=listening[1], timeout=30) as client:
                for _ in range(4):
                    bearer = {"authorization": f"Bearer {key}"}
                    assert client.get("/api/v1/dag-runs", headers=bearer).status_code == 200
                    wrong = {"authorization": "Bearer wrong"}
                    assert client.get("/api/v1/dag-runs", headers=wrong).status_code == 401
            served = {int(m[1]) for m in server.matches(r'^\[(\d+)\] INFO: .* "GET /api/v1/')}
            assert served and served <= workers
            # ... and never through a command line or an environment.
            for pid in [server.proc.pid, *workers]:
                for part in ("cmdline", "environ"):
                    assert key.encode() not in Path(f"/proc/{pid}/{part}").read_bytes()
            assert sorted(p.name for p in (tmp_path / "home").iterdir()) == ["secret_key"]
            assert server.stop(signal.SIGTERM) == 0
        finally:
            server.kill()
