"""The fault suite: real API servers, runners, supervisors and tasks, with faults injected
from outside (a killed or stopped server, killed database connections, a killed supervisor,
an interrupted runner). Each test checks that the run ends in a final state, that no
acknowledged write is lost, and that no task process is left.

The tasks (``dags/faults.py``) write what they did under ``$FAULTS_DIR``.
"""

from __future__ import annotations

import os
import signal
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import HomeDatabases
from tests.e2e.conftest import SERVER_LISTENING, Cli, ServerProcess, _command

from taskstate.supervisor.lifeline import group_members

DAG_FILE = Path(__file__).resolve().parent / "dags" / "faults.py"
RUN_END_SECONDS = 90.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"


@dataclass
class Faults:
    """One test's home, its ``$FAULTS_DIR``, and what the tasks wrote there."""

    cli: Cli
    dir: Path
    started: list[ServerProcess] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        return {"FAULTS_DIR": str(self.dir)}

    def lines(self, name: str) -> list[str]:
        path = self.dir / name
        return path.read_text().splitlines() if path.exists() else []

    def go(self) -> None:
        (self.dir / "go").touch()

    def task_pids(self) -> list[int]:
        pids = [int(p) for p in self.lines("pids")]
        for path in self.dir.glob("try*.pids"):
            pids.append(int(path.read_text().split()[0]))
        return pids

    def assert_no_task_left(self) -> None:
        left = [pid for pid in self.task_pids() if alive(pid)]
        assert left == [], f"task processes still alive: {left}"

    @contextmanager
    def server(self, port: int) -> Iterator[ServerProcess]:
        with self.cli.api_server("--port", str(port)) as server:
            server.wait_for(SERVER_LISTENING)
            yield server

    def start_run(self, dag_id: str, *args: str) -> ServerProcess:
        """``dags test`` in the background; its output is read as it comes."""
        argv = [*_command(), "dags", "test", str(DAG_FILE), "--dag-id", dag_id, *args]
        run = ServerProcess(argv, {**self.cli.env, **self.env()}, self.cli.home)
        self.started.append(run)
        return run

    def close(self) -> None:
        """End the runs a failed test left running, with their tries."""
        for run in self.started:
            run.kill()  # a no-op but for closing its output, if it has ended
        for pid in self.task_pids():
            if alive(pid):
                os.kill(pid, signal.SIGKILL)

    def end_of(self, run: ServerProcess) -> tuple[int, str]:
        """Wait for a background run to end: its exit code and its output."""
        code = run.proc.wait(RUN_END_SECONDS)
        run.kill()  # closes its output once read
        # Every try's process group was ended before the runner exited.
        assert group_members(run.proc.pid) == []
        return code, "\n".join(run.lines)

    def acked_keys_present(self, dag_id: str, run_id: str, *args: str) -> None:
        """Every key a task saw acknowledged is stored."""
        acked = set(self.lines("acked"))
        listed = self.cli.run(
            "state", "list", "--dag-id", dag_id, "--run-id", run_id, "--json", *args
        ).json()
        stored = {entry["key"] for entry in listed}
        assert acked, "no write was acknowledged"
        assert acked <= stored, f"acknowledged but lost: {sorted(acked - stored)}"


@pytest.fixture
def faults(tmp_path: Path, home_databases: HomeDatabases) -> Iterator[Faults]:
    home = tmp_path / "home"
    cli = Cli(home, home_databases.env(home))
    marks = tmp_path / "marks"
    marks.mkdir()
    faults = Faults(cli, marks)
    try:
        yield faults
    finally:
        faults.close()


def run_summary(output: str) -> dict[str, tuple[str, int]]:
    """The summary table of a run's output: {task: (state, tries)}."""
    from tests.e2e.conftest import Result

    rows = Result([], 0, output + "\n", "").summary()
    return {task: (row.state, row.tries) for task, row in rows.items()}


def run_of(faults: Faults, dag_id: str, run_id: str, *args: str) -> dict[str, Any]:
    """The run as the API has it (``runs``/``tasks`` through the public client)."""
    from taskstate.api.keys import client_api_key
    from taskstate.client.public import PublicClient

    settings = faults.cli.settings()
    url = args[args.index("--api-url") + 1] if "--api-url" in args else None
    if url is None:
        with faults.cli.api() as client:
            return client.get_run(dag_id, run_id)  # type: ignore[no-any-return]
    with PublicClient(url, client_api_key(settings)) as client:
        return client.get_run(dag_id, run_id)  # type: ignore[no-any-return]
