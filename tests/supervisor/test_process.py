"""``supervise(job)`` against a real API server: one try of one task instance, in a real task
process, reported through the execution API.

Each test registers a run and queues its task instance with the public client (which hands out
the try's token), then supervises it in this process and checks the outcome, the output and
what the API server recorded.
"""

from __future__ import annotations

import io
import os
import signal
import socket
import textwrap
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from taskstate.config import Settings
from taskstate.supervisor import SupervisorJob, supervise
from taskstate.supervisor.process import Outcome

DAG_ID = "sup"


def write_dag(folder: Path, body: str, *, name: str = "sup_dag.py") -> Path:
    """A DAG file ``sup`` whose tasks are defined by ``body`` (indented into the DAG block)."""
    path = folder / name
    path.write_text(
        "import os, signal, socket, subprocess, sys, threading, time\n"
        "from datetime import UTC, datetime\n"
        "from taskstate.sdk import DAG, Asset, task\n\n"
        f"with DAG(dag_id={DAG_ID!r}, start_date=datetime(2026, 1, 1, tzinfo=UTC)):\n"
        + textwrap.indent(textwrap.dedent(body), "    ")
    )
    return path


class Harness:
    """Registers task instances on a server and supervises their tries."""

    def __init__(self, url: str, client: Any, dag_file: Path) -> None:
        self.url = url
        self.client = client
        self.dag_file = dag_file
        self._runs = 0

    def register(
        self,
        task_id: str = "t",
        *,
        retries: int = 0,
        map_index: int = -1,
        outlets: list[dict[str, str]] | None = None,
    ) -> str:
        self._runs += 1
        task = {"task_id": task_id, "retries": retries, "map_index": map_index}
        run = self.client.create_run(
            {
                "dag_id": DAG_ID,
                "run_id": f"r{self._runs}",
                "dag_file": str(self.dag_file),
                "tasks": [{**task, "outlets": outlets or []}],
            }
        )
        return str(run["task_instances"][0]["id"])

    def job(
        self,
        ti_id: str,
        *,
        heartbeat_interval: float = 10.0,
        token: str | None = None,
        **fields: Any,
    ) -> Any:
        """Queue the next try of ``ti_id``; its job, with ``fields`` of SupervisorJob."""
        queued = self.client.queue_task_instance(ti_id)
        return SupervisorJob(
            api_url=self.url,
            token=token or queued["token"],
            ti_id=ti_id,
            dag_file=str(self.dag_file),
            heartbeat_interval=heartbeat_interval,
            **fields,
        )

    def supervise(self, ti_id: str, **options: Any) -> tuple[Outcome, list[str]]:
        out = io.StringIO()
        outcome = supervise(self.job(ti_id, **options), out=out)
        return outcome, out.getvalue().splitlines()

    def ti(self, ti_id: str) -> dict[str, Any]:
        return self.client.get_task_instance(ti_id)  # type: ignore[no-any-return]

    def state(self, ti_id: str) -> dict[str, Any]:
        ti = self.ti(ti_id)
        entries = self.client.list_task_state(DAG_ID, ti["run_id"], ti["task_id"], ti["map_index"])
        return {e["key"]: e["value"] for e in entries}


@pytest.fixture
def harness_for(api_server: Any, tmp_path: Path) -> Iterator[Callable[[str], Harness]]:
    clients = []

    def make(body: str) -> Harness:
        client = api_server.public()
        clients.append(client)
        return Harness(api_server.url, client, write_dag(tmp_path, body))

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def listener(tmp_path: Path) -> Iterator[tuple[str, socket.socket]]:
    """A Unix socket a task connects to, so a test waits for the task on ``accept``."""
    path = str(tmp_path / "task.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    server.settimeout(30)
    yield path, server
    server.close()


def test_a_task_that_returns_succeeds(harness_for: Callable[[str], Harness]) -> None:
    harness = harness_for(
        """
        @task
        def t(task_state, ti):
            task_state.set("seen", {"try": ti.try_number, "map_index": ti.map_index})
            print("hello from the task")
            print("and from its stderr", file=sys.stderr)
        t()
        """
    )
    ti_id = harness.register()
    outcome, lines = harness.supervise(ti_id)
    assert outcome is Outcome.SUCCESS
    assert lines[0] == "[supervisor] try 1 of t started"
    assert "hello from the task" in lines and "and from its stderr" in lines
    assert lines[-1] == "[supervisor] try 1 succeeded"
    assert harness.ti(ti_id)["state"] == "success"
    assert harness.state(ti_id) == {"seen": {"try": 1, "map_index": -1}}


def test_a_mapped_task_instance_has_its_own_index_and_state(
    harness_for: Callable[[str], Harness],
) -> None:
    harness = harness_for(
        """
        @task
        def t(task_state, map_index, letter):
            task_state.set("seen", [map_index, letter])
        t.expand(letter=["a", "b", "c"])
        """
    )
    ti_id = harness.register(map_index=2)
    outcome, lines = harness.supervise(ti_id)
    assert outcome is Outcome.SUCCESS, lines
    assert harness.state(ti_id) == {"seen": [2, "c"]}


def test_a_map_index_the_task_does_not_have_fails_the_setup(
    harness_for: Callable[[str], Harness],
) -> None:
    harness = harness_for(
        """
        @task
        def t(letter):
            pass
        t.expand(letter=["a", "b"])
        """
    )
    ti_id = harness.register(map_index=5)
    outcome, lines = harness.supervise(ti_id)
    assert outcome is Outcome.FAILED
    assert "error: DagDefinitionError: task 't' has no map index 5 (it has 2 instances)" in lines, (
        lines
    )


def test_a_task_that_raises_fails_and_keeps_its_retry(
    harness_for: Callable[[str], Harness],
) -> None:
    harness = harness_for(
        """
        @task
        def t(task_state, ti):
            if ti.try_number == 1:
                task_state.set("progress", 1)
                raise KeyError("lost")
            assert task_state.get("progress") == 1
        t()
        """
    )
    ti_id = harness.register(retries=1)
    outcome, lines = harness.supervise(ti_id)
    assert outcome is Outcome.FAILED
    assert "Traceback (most recent call last):" in lines
    assert "KeyError: 'lost'" in lines
    assert lines[-1] == (
        "[supervisor] try 1 failed: the task raised an exception; task instance is up_for_retry"
    )
    assert harness.ti(ti_id)["state"] == "up_for_retry"

    outcome, lines = harness.supervise(ti_id)
    assert outcome is Outcome.SUCCESS, lines
    assert lines[0] == "[supervisor] try 2 of t started"
    assert harness.ti(ti_id)["state"] == "success"
    assert harness.ti(ti_id)["try_number"] == 2


def test_a_task_killed_from_outside_fails(
    harness_for: Callable[[str], Harness], listener: tuple[str, socket.socket]
) -> None:
    path, server = listener
    harness = harness_for(
        f"""
        @task
        def t(task_state):
            task_state.set("before", "the kill")
            conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            conn.connect({path!r})
            conn.sendall(str(os.getpid()).encode())
            conn.settimeout(30)
            conn.recv(1)  # blocks until the test kills this process
            raise AssertionError("not killed")
        t()
        """
    )
    ti_id = harness.register()
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(harness.supervise, ti_id)
        conn, _ = server.accept()
        with conn:
            pid = int(conn.recv(32))
            assert pid != os.getpid()
            os.kill(pid, signal.SIGKILL)
            outcome, lines = running.result(timeout=30)
    assert outcome is Outcome.FAILED
    assert lines[-1] == (
        "[supervisor] try 1 failed: the task process was killed by SIGKILL; task instance is failed"
    )
    assert harness.ti(ti_id)["state"] == "failed"
    assert harness.state(ti_id) == {"before": "the kill"}


def test_a_task_that_kills_itself_fails(harness_for: Callable[[str], Harness]) -> None:
    harness = harness_for(
        """
        @task
        def t():
            os.kill(os.getpid(), signal.SIGUSR1)
        t()
        """
    )
    ti_id = harness.register()
    outcome, lines = harness.supervise(ti_id)
    assert outcome is Outcome.FAILED
    assert "killed by SIGUSR1" in lines[-1]


def test_sigterm_raises_in_the_task_where_it_is(harness_for: Callable[[str], Harness]) -> None:
    harness = harness_for(
        """
        @task
        def t():
            try:
                os.kill(os.getpid(), signal.SIGTERM)
                time.sleep(30)
            finally:
                print("cleaned up")
        t()
        """
    )
    ti_id = harness.register()
    outcome, lines = harness.supervise(ti_id)
    assert outcome is Outcome.FAILED
    assert "cleaned up" in lines
    assert lines[-2] == (
        "taskstate.runtime.termination.TaskTerminated: the task process received SIGTERM"
    )
    assert lines[-1] == (
        "[supervisor] try 1 failed: the task raised an exception; task instance is failed"
    )


def test_a_task_that_exits_reports_its_exit_code(harness_for: Callable[[str], Harness]) -> None:
    harness = harness_for(
        """
        @task
        def t():
            print("partial line without a newline", end="", flush=True)
            os._exit(3)
        t()
        """
    )
    ti_id = harness.register()
    outcome, lines = harness.supervise(ti_id)
    assert outcome is Outcome.FAILED
    assert "partial line without a newline" in lines
    assert "code 3" in lines[-1]
    assert harness.ti(ti_id)["state"] == "failed"


def test_exit_code_103_ends_the_try_skipped(harness_for: Callable[[str], Harness]) -> None:
    harness = harness_for(
        """
        @task
        def t():
            os._exit(103)  # what the task process does when the task skips itself
        t()
        """
    )
    ti_id = harness.register(retries=2)
    outcome, lines = harness.supervise(ti_id)
    assert outcome is Outcome.SKIPPED
    assert lines[-1] == "[supervisor] try 1 skipped: the task skipped itself"
    assert harness.ti(ti_id)["state"] == "skipped"


def test_exit_code_104_fails_the_try_without_a_retry(
    harness_for: Callable[[str], Harness],
) -> None:
    harness = harness_for(
        """
        @task
        def t():
            os._exit(104)  # what the task process does when the task fails for good
        t()
        """
    )
    ti_id = harness.register(retries=2)
    outcome, lines = harness.supervise(ti_id)
    assert outcome is Outcome.FAILED
    assert lines[-1] == (
        "[supervisor] try 1 failed: the task failed and asked for no retry; task instance is failed"
    )
    assert harness.ti(ti_id)["state"] == "failed"


LAKE = {"name": "lake", "uri": "s3://lake/tables"}


def test_xcoms_and_asset_events_travel_through_the_supervisor(
    harness_for: Callable[[str], Harness],
) -> None:
    harness = harness_for(
        """
        @task(outlets=[Asset(name="lake", uri="s3://lake/tables")])
        def t(ti, outlet_events, inlet_events):
            ti.xcom_push("rows", [1, 2])
            ti.xcom_push("none", None)
            print("pulled", ti.xcom_pull(task_ids="t", key="rows"), ti.xcom_pull(key="none"))
            print("events before", len(inlet_events["lake"]))
            outlet_events["lake"].extra["rows"] = 2
            return "out"
        t()
        """
    )
    ti_id = harness.register(outlets=[LAKE])
    outcome, lines = harness.supervise(ti_id)
    assert outcome is Outcome.SUCCESS, lines
    assert "pulled [1, 2] None" in lines
    assert "events before 0" in lines
    xcoms = [(x["key"], x["value"]) for x in harness.client.list_xcoms(ti_id)]
    assert xcoms == [("none", None), ("return_value", "out"), ("rows", [1, 2])]
    (event,) = harness.client.list_asset_events("lake")
    assert (event["extra"], event["source_task_id"]) == ({"rows": 2}, "t")


def test_a_generator_task_records_its_metadata_and_returns_its_value(
    harness_for: Callable[[str], Harness],
) -> None:
    harness = harness_for(
        """
        from taskstate.sdk import Metadata

        @task(outlets=[Asset(name="lake", uri="s3://lake/tables")])
        def t():
            yield Metadata(Asset(name="lake", uri="s3://lake/tables"), {"yielded": True})
            return "returned"
        t()
        """
    )
    ti_id = harness.register(outlets=[LAKE])
    outcome, lines = harness.supervise(ti_id)
    assert outcome is Outcome.SUCCESS, lines
    assert [(x["key"], x["value"]) for x in harness.client.list_xcoms(ti_id)] == [
        ("return_value", "returned")
    ]
    assert [e["extra"] for e in harness.client.list_asset_events("lake")] == [{"yielded": True}]


def test_a_failed_try_records_no_asset_event(harness_for: Callable[[str], Harness]) -> None:
    harness = harness_for(
        """
        @task(outlets=[Asset(name="lake", uri="s3://lake/tables")])
        def t(outlet_events):
            outlet_events["lake"].extra["half"] = True
            raise RuntimeError("failed after setting the extra")
        t()
        """
    )
    ti_id = harness.register(outlets=[LAKE])
    outcome, _ = harness.supervise(ti_id)
    assert outcome is Outcome.FAILED
    assert harness.client.list_asset_events("lake") == []


def test_sys_exit_zero_is_success_and_nonzero_is_failure(
    harness_for: Callable[[str], Harness],
) -> None:
    harness = harness_for(
        """
        @task
        def t(ti):
            sys.exit(0 if ti.try_number == 2 else "bad try")
        t()
        """
    )
    ti_id = harness.register(retries=1)
    outcome, lines = harness.supervise(ti_id)
    assert outcome is Outcome.FAILED
    assert "task exited with sys.exit('bad try')" in lines
    outcome, lines = harness.supervise(ti_id)
    assert outcome is Outcome.SUCCESS, lines


def test_a_grandchild_holding_the_output_open_does_not_hang_the_supervisor(
    harness_for: Callable[[str], Harness], tmp_path: Path
) -> None:
    pid_file = tmp_path / "grandchild.pid"
    harness = harness_for(
        f"""
        @task
        def t():
            child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
            open({str(pid_file)!r}, "w").write(str(child.pid))
            print("started a grandchild that keeps stdout open")
        t()
        """
    )
    ti_id = harness.register()
    try:
        outcome, lines = harness.supervise(ti_id)
    finally:
        if pid_file.exists():
            os.kill(int(pid_file.read_text()), signal.SIGKILL)
    assert outcome is Outcome.SUCCESS, lines
    assert "started a grandchild that keeps stdout open" in lines


def test_a_dag_file_that_cannot_be_imported_fails_the_setup(
    harness_for: Callable[[str], Harness],
) -> None:
    harness = harness_for("raise RuntimeError('the DAG file is broken')\n")
    ti_id = harness.register()
    outcome, lines = harness.supervise(ti_id)
    assert outcome is Outcome.FAILED
    [error] = [line for line in lines if line.startswith("error: ")]
    assert error.startswith("error: DagDefinitionError: importing DAG file")
    assert "RuntimeError: the DAG file is broken" in error
    assert lines[-1] == (
        "[supervisor] try 1 failed: the task could not be set up; task instance is failed"
    )
    assert harness.ti(ti_id)["state"] == "failed"


def test_a_task_missing_from_the_dag_file_fails_the_setup(
    harness_for: Callable[[str], Harness],
) -> None:
    harness = harness_for(
        """
        @task
        def t():
            pass
        t()
        """
    )
    ti_id = harness.register("not_in_the_file")
    outcome, lines = harness.supervise(ti_id)
    assert outcome is Outcome.FAILED
    assert "error: DAG 'sup' has no task 'not_in_the_file'" in lines
    assert "could not be set up" in lines[-1]


def test_a_bad_token_stops_the_supervisor_before_the_task_starts(
    harness_for: Callable[[str], Harness], tmp_path: Path
) -> None:
    mark = tmp_path / "ran"
    harness = harness_for(
        f"""
        @task
        def t():
            open({str(mark)!r}, "w").close()
        t()
        """
    )
    ti_id = harness.register()
    outcome, lines = harness.supervise(ti_id, token="not-a-token")
    assert outcome is Outcome.ERROR
    assert lines == [
        "[supervisor] supervisor error: NotAuthenticatedError: invalid task-instance token"
    ]
    assert not mark.exists()
    assert harness.ti(ti_id)["state"] == "queued"


def test_an_unreachable_api_server_is_an_error(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    job = SupervisorJob(
        api_url=f"http://127.0.0.1:{port}",
        token="t",
        ti_id="x",
        dag_file=str(write_dag(tmp_path, "pass\n")),
        client_retry_seconds=0,
    )
    out = io.StringIO()
    assert supervise(job, out=out) is Outcome.ERROR
    assert "APIConnectionError: cannot reach the API server" in out.getvalue()


# -- heartbeats ------------------------------------------------------------------------------
# Tokens live 2 s here. The task keeps calling for 2.5 s, past the expiry of the token its try
# was queued with: it can only succeed if heartbeats replaced that token in time.

LONG_TASK = """
@task
def t(task_state):
    pace = threading.Event()
    deadline = time.monotonic() + 2.5
    calls = 0
    while time.monotonic() < deadline:
        task_state.set("calls", calls)
        calls += 1
        pace.wait(0.02)
    print(f"made {calls} calls")
t()
"""


@pytest.fixture
def short_token_server(make_settings: Callable[..., Settings], tmp_path: Path) -> Iterator[Harness]:
    from taskstate.api.keys import client_api_key
    from taskstate.api.server import EmbeddedServer
    from taskstate.client.public import PublicClient

    # The supervisors below beat every 0.05 s; the settings' interval must fit the TTL too.
    settings = make_settings(
        TASKSTATE__API__TOKEN_TTL_SECONDS="2", TASKSTATE__WORKERS__HEARTBEAT_INTERVAL="0.5"
    )
    with (
        EmbeddedServer(settings) as server,
        PublicClient(server.url, client_api_key(settings)) as client,
    ):
        yield Harness(server.url, client, write_dag(tmp_path, LONG_TASK))


def test_heartbeats_refresh_the_token_of_a_long_task(short_token_server: Harness) -> None:
    harness = short_token_server
    ti_id = harness.register()
    outcome, lines = harness.supervise(ti_id, heartbeat_interval=0.05)
    assert outcome is Outcome.SUCCESS, lines
    assert not [line for line in lines if "heartbeat failed" in line]
    assert harness.ti(ti_id)["state"] == "success"


def test_without_heartbeats_the_token_expires(short_token_server: Harness) -> None:
    harness = short_token_server
    ti_id = harness.register()
    outcome, lines = harness.supervise(ti_id, heartbeat_interval=30)
    assert outcome is not Outcome.SUCCESS
    assert "taskstate.errors.NotAuthenticatedError: the task-instance token has expired" in lines


def test_a_heartbeat_that_finds_the_task_instance_gone_stops_the_task(
    harness_for: Callable[[str], Harness], api_server: Any, listener: tuple[str, socket.socket]
) -> None:
    """The server says the try is no longer running: the supervisor kills the task."""
    path, server = listener
    harness = harness_for(
        f"""
        @task
        def t():
            conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            conn.connect({path!r})
            conn.sendall(b"started")
            conn.settimeout(30)
            conn.recv(1)  # blocks until the supervisor kills this process
        t()
        """
    )
    ti_id = harness.register()
    with ThreadPoolExecutor(1) as pool:
        running = pool.submit(harness.supervise, ti_id, heartbeat_interval=0.05)
        conn, _ = server.accept()
        with conn:
            assert conn.recv(16) == b"started"
            # What an operator would do: end the try behind the supervisor's back.
            _set_ti_state(api_server.settings, ti_id, "failed")
            outcome, lines = running.result(timeout=30)
    assert outcome is Outcome.FAILED
    assert "[supervisor] task instance is failed on the server; stopping the task" in lines
    assert lines[-1] == "[supervisor] try 1 stopped: the task instance is failed"
    assert harness.ti(ti_id)["state"] == "failed"


def _set_ti_state(settings: Settings, ti_id: str, state: str) -> None:
    from sqlalchemy import update

    from taskstate.db.engine import Database
    from taskstate.db.models import TaskInstance

    database = Database(settings.database.url)
    try:
        with database.session_factory() as session:
            session.execute(
                update(TaskInstance).where(TaskInstance.id == ti_id).values(state=state)
            )
            session.commit()
    finally:
        database.dispose()
