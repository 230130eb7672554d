"""Running the ``taskstate`` command as a user would, in a private ``TASKSTATE_HOME``.

Every run goes through real processes: the CLI, its embedded API server, one supervisor per
try and one task process per supervisor. The helpers here start the command, read what it
printed (task lines, the summary table, ``--json`` answers) and, when a test needs the API's
view, serve the home's database with a real API server in this process.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from tests.conftest import HomeDatabases

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
DAGS = Path(__file__).resolve().parent / "dags"

MEMORY = "memory_state_backend.MemoryStateBackend"
"""The seed's worker backend, beside the seed's DAGs in examples/."""
OBJECT_STORAGE = "taskstate.backends.object_storage.ObjectStorageStateBackend"
SEED_PASS_LINES = [
    "test_set_and_get | set + get: PASS",
    "test_delete | delete: PASS",
    "test_clear | clear: PASS",
]
"""What the seed's task-state and asset-state DAGs print when every check passes."""


def worker_backend_env(backend: str, **kwargs: Any) -> dict[str, str]:
    """The environment that sets ``[workers] state_backend`` and its kwargs."""
    return {
        "TASKSTATE__WORKERS__STATE_BACKEND": backend,
        "TASKSTATE__WORKERS__STATE_BACKEND_KWARGS": json.dumps(kwargs),
    }


RETURN_LOG_LINE = "Done. Returned value was:"
"""What a Python task logs when it returns, as Airflow's PythonOperator does."""

# Generous: a run of a few tasks takes 1-3 s; this only bounds a hang.
RUN_TIMEOUT_SECONDS = 45.0

_SUMMARY_ROW = re.compile(
    r"^│\s*(?P<task>\S+)\s*│\s*(?P<map>-?\d*)\s*│\s*(?P<state>\w+)\s*│\s*(?P<tries>\d+)\s*│"
)


def _command() -> list[str]:
    script = Path(sys.executable).with_name("taskstate")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "taskstate.cli"]


class Row(NamedTuple):
    """One row of a run's summary table."""

    state: str
    tries: int


@dataclass
class Result:
    """What one ``taskstate`` command did."""

    args: list[str]
    code: int
    stdout: str
    stderr: str

    def __str__(self) -> str:
        return (
            f"$ taskstate {' '.join(self.args)}\nexit {self.code}\n"
            f"--- stdout\n{self.stdout}--- stderr\n{self.stderr}"
        )

    def lines(self, task_id: str) -> list[str]:
        """The lines printed for ``task_id`` (its output and the supervisor's and runner's), but
        the closing "Done. Returned value was: ..." log line of a Python task (Airflow's)."""
        prefix = f"{task_id} | "
        return [
            line[len(prefix) :]
            for line in self.stdout.splitlines()
            if line.startswith(prefix) and RETURN_LOG_LINE not in line
        ]

    def summary(self) -> dict[str, Row]:
        """The summary table: state and tries by task id (``task[i]`` for a mapped instance)."""
        rows = {}
        for line in self.stdout.splitlines():
            match = _SUMMARY_ROW.match(line)
            if match:
                label = f"{match['task']}[{match['map']}]" if match["map"] else match["task"]
                rows[label] = Row(match["state"], int(match["tries"]))
        return rows

    def json(self) -> Any:
        assert self.code == 0, str(self)
        return json.loads(self.stdout)


SERVER_LISTENING = r"Uvicorn running on (http://[\d.]+:\d+)"
"""What an API server prints once it has bound its port (group 1: its URL)."""
WORKER_STARTED = r"^\[(\d+)\] INFO: +Application startup complete"
"""What each worker of ``api-server --workers N`` prints once it serves (group 1: its pid)."""


class ServerProcess:
    """An API server (``taskstate api-server ...``, or ``argv``) running in the background; its
    output (stdout and stderr, one pipe) is read line by line as it comes, so a test can wait
    for a line."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path) -> None:
        self.proc = subprocess.Popen(
            argv,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={**env, "PYTHONUNBUFFERED": "1"},
            cwd=cwd,
            start_new_session=True,  # so that a hang can be ended with all its workers
            text=True,
        )
        self.lines: list[str] = []
        self._ended = False
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self._ended = True
            self._changed.notify_all()

    def matches(self, pattern: str) -> list[re.Match[str]]:
        """The matches of ``pattern`` in the lines printed so far."""
        regex = re.compile(pattern)
        with self._changed:
            return [m for m in map(regex.search, self.lines) if m is not None]

    def wait_for(self, pattern: str, count: int = 1) -> list[re.Match[str]]:
        """Wait until ``count`` lines match ``pattern``; fail if the output ends first."""
        with self._changed:
            self._changed.wait_for(
                lambda: self._ended or len(self.matches(pattern)) >= count, RUN_TIMEOUT_SECONDS
            )
            found = self.matches(pattern)
            if len(found) < count:
                pytest.fail(f"the server did not print {pattern!r}:\n" + "\n".join(self.lines))
            return found

    def stop(self, sig: signal.Signals = signal.SIGTERM) -> int:
        """Send ``sig`` and wait for the server to end; its exit code."""
        self.proc.send_signal(sig)
        try:
            code = self.proc.wait(RUN_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"the server did not stop on {sig.name}:\n" + "\n".join(self.lines))
        self._close()
        return code

    def kill(self) -> None:
        """End the server and its workers at once, if it still runs."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self._close()

    def _close(self) -> None:
        self._reader.join()
        assert self.proc.stdout is not None
        self.proc.stdout.close()


class Cli:
    """The ``taskstate`` command over one ``TASKSTATE_HOME`` (and its database, see
    ``tests/conftest.py``: ``env`` holds its URL when it is not the SQLite default)."""

    def __init__(self, home: Path, env: dict[str, str] | None = None) -> None:
        self.home = home
        home.mkdir(parents=True, exist_ok=True)
        base = {k: v for k, v in os.environ.items() if not k.startswith("TASKSTATE")}
        self.env = {
            **base,
            "TASKSTATE_HOME": str(home),
            "HOME": str(home),
            # The summary table must not be squeezed into 80 columns, nor coloured.
            "COLUMNS": "200",
            "NO_COLOR": "1",
            "TERM": "dumb",
            **(env or {}),
        }

    def run(
        self,
        *args: str | Path,
        env: dict[str, str] | None = None,
        timeout: float = RUN_TIMEOUT_SECONDS,
    ) -> Result:
        """Run ``taskstate ARGS``; a run that does not end in ``timeout`` s fails the test."""
        argv = [str(a) for a in args]
        proc = subprocess.Popen(
            [*_command(), *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**self.env, **(env or {})},
            cwd=self.home,
            start_new_session=True,  # so that a hang can be ended with all its supervisors
            text=True,
        )
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            pytest.fail(f"taskstate {' '.join(argv)} did not finish:\n{out}\n{err}")
        return Result(argv, proc.returncode, out, err)

    @contextmanager
    def api_server(self, *args: str) -> Iterator[ServerProcess]:
        """``taskstate api-server ARGS`` in the background, ended when the block ends."""
        server = ServerProcess([*_command(), "api-server", *args], self.env, self.home)
        try:
            yield server
        finally:
            server.kill()

    def dags_test(
        self,
        dag_file: Path,
        *args: str,
        env: dict[str, str] | None = None,
        timeout: float = RUN_TIMEOUT_SECONDS,
    ) -> Result:
        return self.run("dags", "test", dag_file, *args, env=env, timeout=timeout)

    def task_state(self, dag_id: str, run_id: str | None = None) -> list[dict[str, Any]]:
        args = ["state", "list", "--dag-id", dag_id, "--json"]
        if run_id is not None:
            args += ["--run-id", run_id]
        return self.run(*args).json()  # type: ignore[no-any-return]

    def task_keys(self, dag_id: str, run_id: str | None = None) -> dict[str, dict[str, Any]]:
        """The task state of a DAG as {task_id: {key: value}} (references left out)."""
        found: dict[str, dict[str, Any]] = {}
        for entry in self.task_state(dag_id, run_id):
            found.setdefault(entry["task_id"], {})[entry["key"]] = entry["value"]
        return found

    def asset_state(self, asset: str) -> list[dict[str, Any]]:
        return self.run("state", "list", "--asset", asset, "--json").json()  # type: ignore[no-any-return]

    def settings(self) -> Any:
        """The settings the command reads, but for the ``env`` of a single run."""
        from taskstate.config import load_settings

        return load_settings(env=self.env)

    def query(self, statement: str) -> list[tuple[Any, ...]]:
        """The rows of a SQL query on the home's database, read directly, not through the API."""
        from sqlalchemy import text

        from taskstate.db import Database

        database = Database(self.settings().database.url, pool_size=1)
        try:
            with database.engine.connect() as connection:
                return [tuple(row) for row in connection.execute(text(statement))]
        finally:
            database.dispose()

    @contextmanager
    def api(self) -> Iterator[Any]:
        """A public-API client of a real API server over this home's database."""
        from taskstate.api.keys import client_api_key
        from taskstate.api.server import EmbeddedServer
        from taskstate.client.public import PublicClient

        settings = self.settings()
        with (
            EmbeddedServer(settings) as server,
            PublicClient(server.url, client_api_key(settings)) as client,
        ):
            yield client


@pytest.fixture
def cli(tmp_path: Path, home_databases: HomeDatabases) -> Cli:
    """The command over a fresh home in ``tmp_path``."""
    home = tmp_path / "home"
    return Cli(home, home_databases.env(home))


@pytest.fixture(scope="module")
def make_cli(
    tmp_path_factory: pytest.TempPathFactory, module_home_databases: HomeDatabases
) -> Callable[..., Cli]:
    """Build a ``Cli`` over a fresh home, for module-scoped runs shared by several tests."""

    def make(name: str, env: dict[str, str] | None = None) -> Cli:
        home = tmp_path_factory.mktemp(name) / "home"
        return Cli(home, {**module_home_databases.env(home, env), **(env or {})})

    return make
