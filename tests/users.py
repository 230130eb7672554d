"""A throwaway unprivileged user, for tests that need a second user on the machine.

The tests run as root here; a process that must be "another user" (or "the same user, but not
root", whom the kernel does not let read another process's memory) runs as a user made for the
test with ``useradd`` and removed after it. Where the tests do not run as root, they cannot make
one, and the tests that need one are skipped with a message saying so.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

__all__ = ["ThrowawayUser", "interpreter_for", "require_root", "throwaway_user"]


def require_root() -> None:
    """Skip the test unless it runs as root (only root can make users and start their
    processes)."""
    if os.geteuid() != 0:
        pytest.skip("needs root: it starts processes as a throwaway user made with useradd")
    if shutil.which("useradd") is None:
        pytest.skip("needs useradd to make a throwaway user")


class ThrowawayUser:
    """A user made for one test, with a private folder of its own (``home``)."""

    def __init__(self, entry: pwd.struct_passwd, home: Path) -> None:
        self.name = entry.pw_name
        self.uid = entry.pw_uid
        self.gid = entry.pw_gid
        self.home = home

    def popen_options(self) -> dict[str, Any]:
        """``subprocess.Popen`` arguments that start the child as this user."""
        return {"user": self.uid, "group": self.gid, "extra_groups": []}


def _edit_users(command: list[str]) -> None:
    """Run ``useradd``/``userdel``, waiting while another process edits the user files."""
    for _ in range(50):
        done = subprocess.run(command, capture_output=True, text=True)
        # Another process (a test of another worker) may hold the lock of /etc/passwd.
        if done.returncode == 0 or "lock" not in done.stderr:
            break
        time.sleep(0.1)  # no event tells when the lock is free
    assert done.returncode == 0, f"{' '.join(command)}: {done.stderr}"


@contextmanager
def throwaway_user() -> Iterator[ThrowawayUser]:
    """A new user (no login, no home of its own in /home) and a folder it owns, removed after."""
    require_root()
    name = f"tsh{secrets.token_hex(4)}"
    _edit_users(["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", name])
    home = Path(tempfile.mkdtemp(prefix=f"{name}-"))
    try:
        entry = pwd.getpwnam(name)
        os.chown(home, entry.pw_uid, entry.pw_gid)
        home.chmod(0o700)
        yield ThrowawayUser(entry, home)
    finally:
        shutil.rmtree(home, ignore_errors=True)
        _edit_users(["userdel", name])


def _runs_as(user: ThrowawayUser, python: str) -> bool:
    try:
        probe = subprocess.run(
            [python, "-c", "import taskstate.cli.main"],
            capture_output=True,
            cwd="/",
            **user.popen_options(),
        )
    except PermissionError:  # the interpreter, or a folder above it, is private
        return False
    return probe.returncode == 0


@contextmanager
def interpreter_for(user: ThrowawayUser) -> Iterator[str]:
    """A Python that ``user`` can run, with taskstate and its dependencies importable.

    ``sys.executable`` when the user can run it. Otherwise (the interpreter lives under a
    private folder, such as root's home) a throwaway virtual environment made from the system's
    Python of the same version, whose ``.pth`` file adds this environment's packages.
    """
    if _runs_as(user, sys.executable):
        yield sys.executable
        return
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    system = shutil.which(f"python{version}", path="/usr/local/bin:/usr/bin:/bin")
    if system is None:
        pytest.skip(
            f"{sys.executable} is out of reach of another user, and there is no system "
            f"python{version} to make one from"
        )
    folder = Path(tempfile.mkdtemp(prefix="taskstate-python-"))
    try:
        folder.chmod(0o755)
        subprocess.run([system, "-m", "venv", "--without-pip", folder], check=True)
        site = subprocess.run(
            [
                folder / "bin" / "python",
                "-c",
                "import sysconfig; print(sysconfig.get_path('purelib'))",
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        ours = sysconfig.get_path("purelib")
        Path(site, "taskstate_tests.pth").write_text(f"import site; site.addsitedir({ours!r})\n")
        python = str(folder / "bin" / "python")
        if not _runs_as(user, python):
            pytest.skip(f"user {user.name} cannot import taskstate from {ours}")
        yield python
    finally:
        shutil.rmtree(folder, ignore_errors=True)
