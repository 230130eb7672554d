"""``taskstate.hardening``: undumpable processes, environments without secrets, run_as_user.

Whether a process can read another's memory depends on who it runs as: root may read anyone's.
So the "same user" of these tests is an unprivileged one: a throwaway user made with
``useradd`` when the tests run as root (``tests/users.py``), else the user running them.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import msgspec
import pytest
from tests.users import ThrowawayUser, interpreter_for, throwaway_user

from taskstate.errors import ConfigError
from taskstate.hardening import task_user, without_secrets
from taskstate.supervisor.job import SupervisorJob
from taskstate.testing.postgres import temporary_database

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="prctl is Linux's")

# What a process of the same user tries against PID: its memory, as a debugger reads it, and its
# environment. Prints {"memory": ..., "environ": ...}, each "read" or "denied".
READER = """
import json, sys
pid = int(sys.argv[1])
def attempt(read):
    try:
        read()
    except PermissionError:
        return "denied"
    return "read"
def memory():
    with open(f"/proc/{pid}/maps", "rb") as maps:
        start = int(maps.read().split(b"-", 1)[0], 16)
    with open(f"/proc/{pid}/mem", "rb") as mem:
        mem.seek(start)
        mem.read(16)
def environ():
    with open(f"/proc/{pid}/environ", "rb") as file:
        file.read()
print(json.dumps({"memory": attempt(memory), "environ": attempt(environ)}))
"""


def run_python(python: str, code: str, user: ThrowawayUser | None = None, *args: str) -> str:
    options = user.popen_options() if user is not None else {}
    done = subprocess.run(
        [python, "-c", code, *args], capture_output=True, text=True, check=True, **options
    )
    return done.stdout.strip()


@contextmanager
def unprivileged() -> Iterator[tuple[str, ThrowawayUser | None]]:
    """A Python and the unprivileged user to run it as (None: this process's own)."""
    if os.geteuid() != 0:
        yield sys.executable, None
        return
    with throwaway_user() as user, interpreter_for(user) as python:
        yield python, user


@linux_only
def test_an_undumpable_process_starts_programs_that_are_dumpable() -> None:
    code = (
        "import subprocess, sys\n"
        "from taskstate.hardening import is_dumpable, make_undumpable\n"
        "before = is_dumpable()\n"
        "assert make_undumpable('test')\n"
        "child = subprocess.run([sys.executable, '-c', "
        "'from taskstate.hardening import is_dumpable; print(is_dumpable())'], "
        "capture_output=True, text=True, check=True).stdout.strip()\n"
        "print(before, is_dumpable(), child)\n"
    )
    # Dumpable at start; not after; the task process (a program it starts) is dumpable again.
    assert run_python(sys.executable, code) == "True False True"


def test_the_environment_of_a_task_holds_no_secret() -> None:
    environ = {
        "PATH": "/usr/bin",
        "TASKSTATE_HOME": "/h",
        "TASKSTATE_API_KEY": "k",
        "TASKSTATE_API_KEY_FILE": "/k",
        "TASKSTATE__API__SECRET_KEY": "s",
        "taskstate__api__api_keys": '["k"]',
        "TASKSTATE__DATABASE__URL": "postgresql://u:p@h/d",
        "TASKSTATE__STATE_STORE__BACKEND_KWARGS": '{"url": "redis://:p@h"}',
        "TASKSTATE__WORKERS__STATE_BACKEND_KWARGS": '{"root": "s3://b"}',
        "TASKSTATE__WORKERS__ENCRYPTION_KEYS": '["k1:AAAA"]',
        "taskstate__workers__encryption_keys_file": "/keys",
        "AIRFLOW_CONN_DB": "postgresql://task:own@h/d",
    }
    assert without_secrets(environ) == {
        "PATH": "/usr/bin",
        "TASKSTATE_HOME": "/h",
        "TASKSTATE__WORKERS__STATE_BACKEND_KWARGS": '{"root": "s3://b"}',
        "AIRFLOW_CONN_DB": "postgresql://task:own@h/d",
    }


def test_run_as_user_must_name_a_user() -> None:
    with pytest.raises(ConfigError, match="names 'no-such-user-ts', which is not a user"):
        task_user("no-such-user-ts")
    assert task_user(None) is None
    assert task_user("") is None


def test_run_as_user_cannot_be_root() -> None:
    with pytest.raises(ConfigError, match="a user with uid 0: a task running as root"):
        task_user("root")


def test_run_as_user_needs_root() -> None:
    if os.geteuid() != 0:
        with pytest.raises(ConfigError, match=r"taskstate runs as uid \d+, not root"):
            task_user(getpass.getuser())
        return
    with throwaway_user() as user:
        found = task_user(user.name)
        assert found is not None
        assert (found.uid, found.gid) == (user.uid, user.gid)
        assert found.popen_options() == {
            "user": user.uid,
            "group": user.gid,
            "extra_groups": list(found.groups),
        }
        env = found.environment({"HOME": "/root", "PATH": "/usr/bin"})
        assert env == {
            "HOME": found.home,
            "PATH": "/usr/bin",
            "USER": user.name,
            "LOGNAME": user.name,
        }


def _uid_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError(f"no Uid line for {pid}")


def _yama_ptrace_scope() -> int:
    """The Yama LSM's ptrace restriction; 0 where Yama is not there (as here)."""
    path = Path("/proc/sys/kernel/yama/ptrace_scope")
    return int(path.read_text()) if path.exists() else 0


def _attempts(python: str, user: ThrowawayUser | None, pid: int) -> dict[str, Any]:
    return json.loads(run_python(python, READER, user, str(pid)))  # type: ignore[no-any-return]


@linux_only
def test_a_process_of_the_same_user_cannot_read_the_supervisors_memory() -> None:
    with unprivileged() as (python, user), socket.create_server(("127.0.0.1", 0)) as api:
        options = user.popen_options() if user is not None else {}
        api.settimeout(60)
        job = SupervisorJob(
            api_url=f"http://127.0.0.1:{api.getsockname()[1]}",
            token="the token of the try",
            ti_id="ti",
            dag_file="/nonexistent.py",
            client_retry_seconds=0,  # the fake API answers nothing: no call is worth retrying
        )
        # A control: a process of the same user that is dumpable, as any program is.
        control = subprocess.Popen(
            [python, "-c", "import sys; sys.stdin.read()"], stdin=subprocess.PIPE, **options
        )
        supervisor = subprocess.Popen(
            [python, "-m", "taskstate.supervisor"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            **options,
        )
        try:
            assert supervisor.stdin is not None
            supervisor.stdin.write(msgspec.json.encode(job))
            supervisor.stdin.close()
            # The supervisor calls the API once it holds the job and its token: by then it
            # made itself undumpable, and the kernel gave its /proc files to root.
            connection, _ = api.accept()
            with connection:
                assert _uid_of(supervisor.pid) == (os.getuid() if user is None else user.uid)
                assert _uid_of(supervisor.pid) != 0
                assert os.stat(f"/proc/{supervisor.pid}/mem").st_uid == 0
                assert os.stat(f"/proc/{control.pid}/mem").st_uid != 0
                # Yama (ptrace_scope >= 1) keeps a process from a sibling's memory as well.
                memory = "read" if _yama_ptrace_scope() == 0 else "denied"
                assert _attempts(python, user, control.pid) == {"memory": memory, "environ": "read"}
                assert _attempts(python, user, supervisor.pid) == {
                    "memory": "denied",
                    "environ": "denied",
                }
        finally:
            assert control.stdin is not None
            control.stdin.close()
            control.wait()
            supervisor.wait(60)


@linux_only
def test_every_process_of_the_api_server_is_undumpable() -> None:
    """``api-server --workers 2``: the parent (it holds the keys it created) and each worker
    (started anew by ``exec``) make themselves undumpable before they serve."""
    with unprivileged() as (python, user), temporary_database() as url:
        options = user.popen_options() if user is not None else {}
        home = user.home if user is not None else Path(tempfile.mkdtemp())
        base = {k: v for k, v in os.environ.items() if not k.startswith("TASKSTATE")}
        env = {**base, "TASKSTATE_HOME": str(home / "home"), "TASKSTATE__DATABASE__URL": url}
        server = subprocess.Popen(
            [python, "-m", "taskstate.cli", "api-server", "--port", "0", "--workers", "2"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env={**env, "PYTHONUNBUFFERED": "1"},
            cwd=home,
            text=True,
            **options,
        )
        try:
            assert server.stdout is not None
            workers: list[int] = []
            lines = []
            for line in server.stdout:
                lines.append(line)
                if match := re.search(r"^\[(\d+)\] INFO: +Application startup complete", line):
                    workers.append(int(match[1]))
                if len(workers) == 2:
                    break
            assert len(workers) == 2, "".join(lines)
            for pid in [server.pid, *workers]:
                assert _uid_of(pid) != 0
                assert os.stat(f"/proc/{pid}/mem").st_uid == 0, pid
            assert _attempts(python, user, workers[0]) == {"memory": "denied", "environ": "denied"}
        finally:
            server.send_signal(signal.SIGTERM)
            server.communicate(timeout=60)
            if user is None:
                shutil.rmtree(home, ignore_errors=True)
