"""Running the installed ``taskstate`` command as a subprocess, in a private home."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.conftest import HomeDatabases

_COMMAND_TIMEOUT_SECONDS = 30


def taskstate_command() -> str:
    beside = Path(sys.executable).parent / "taskstate"
    if beside.is_file():
        return str(beside)
    found = shutil.which("taskstate")
    if found is None:
        pytest.fail("the taskstate command is not installed (pip install -e .)")
    return found


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def error(self) -> str:
        """The error line the command printed (stderr must start with it)."""
        assert self.stderr.startswith("error: "), self.stderr
        return self.stderr.removeprefix("error: ").strip()


Cli = Callable[..., Result]


@pytest.fixture
def cli_home(tmp_path: Path) -> Path:
    home = tmp_path / "cli-home"
    home.mkdir()
    return home


@pytest.fixture
def cli(cli_home: Path, home_databases: HomeDatabases) -> Cli:
    """``cli(*args, home=..., env={...})``: run ``taskstate`` with a clean environment.

    Nothing of the caller's environment that could change settings leaks in: the command sees
    PATH, a UTF-8 locale, ``HOME`` and ``TASKSTATE_HOME`` (``cli_home`` unless ``home`` is
    given), the home's database (see ``tests/conftest.py``) and ``env``.
    """
    command = taskstate_command()

    def run(*args: str, home: Path | None = None, env: dict[str, str] | None = None) -> Result:
        home = home or cli_home
        environ = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "PYTHONIOENCODING": "utf-8",
            "HOME": str(home),
            "TASKSTATE_HOME": str(home),
            **home_databases.env(home, env),
            **(env or {}),
        }
        done = subprocess.run(
            [command, *args],
            env=environ,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=_COMMAND_TIMEOUT_SECONDS,
            check=False,
        )
        return Result(done.returncode, done.stdout, done.stderr)

    return run
