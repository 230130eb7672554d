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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import pytest

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
        """The lines printed for ``task_id`` (its output and the supervisor's and runner's)."""
        prefix = f"{task_id} | "
        return [line[len(prefix) :] for line in self.stdout.splitlines() if line.startswith(prefix)]

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


class Cli:
    """The ``taskstate`` command over one ``TASKSTATE_HOME``."""

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

    def run(self, *args: str | Path, env: dict[str, str] | None = None) -> Result:
        """Run ``taskstate ARGS``; a run that does not end in time fails the test."""
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
            out, err = proc.communicate(timeout=RUN_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            pytest.fail(f"taskstate {' '.join(argv)} did not finish:\n{out}\n{err}")
        return Result(argv, proc.returncode, out, err)

    def dags_test(self, dag_file: Path, *args: str, env: dict[str, str] | None = None) -> Result:
        return self.run("dags", "test", dag_file, *args, env=env)

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

    @contextmanager
    def api(self) -> Iterator[Any]:
        """A public-API client of a real API server over this home's database."""
        from taskstate.api.keys import client_api_key
        from taskstate.api.server import EmbeddedServer
        from taskstate.client.public import PublicClient
        from taskstate.config import load_settings

        settings = load_settings(env={"TASKSTATE_HOME": str(self.home), "HOME": str(self.home)})
        with (
            EmbeddedServer(settings) as server,
            PublicClient(server.url, client_api_key(settings)) as client,
        ):
            yield client


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    """The command over a fresh home in ``tmp_path``."""
    return Cli(tmp_path / "home")


@pytest.fixture(scope="module")
def make_cli(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Cli]:
    """Build a ``Cli`` over a fresh home, for module-scoped runs shared by several tests."""

    def make(name: str, env: dict[str, str] | None = None) -> Cli:
        return Cli(tmp_path_factory.mktemp(name) / "home", env)

    return make
