"""A hostile task on the same machine (``dags/hostile.py``): what it can reach, and what not.

The task ``attacker`` tries to read the key files and the SQLite file of ``$TASKSTATE_HOME``,
to call the execution API for another task instance with a token it signed itself, and to read
its supervisor's and the runner's memory (``/proc/PID/mem``, ``ptrace``) and environment. The
README's Security section says what each attempt gets; these tests assert exactly that:

* the task as the runner's own (unprivileged) user: no memory, no ``ptrace``, no environment of
  a taskstate process, no secret in its own environment, no forged token or stolen API key
  accepted by the embedded server; it *can* read the files of its user's home (the SQLite file,
  and the key files a standalone server wrote there), as the README says.
* the task as ``[workers] run_as_user`` (the runner as root): every attempt fails.
* a task that forges a reference to another task's object (``dags/hostile_reference.py``)
  neither reads nor removes it, nor does ``taskstate state purge`` for it.

The tests run as root here; a "same user" that is not root is a throwaway user made with
``useradd`` (root may read any process's memory, so a task running as root is out of scope).
"""

from __future__ import annotations

import getpass
import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from tests.users import ThrowawayUser, interpreter_for, throwaway_user

from taskstate.api.keys import API_KEY_FILE, SECRET_KEY_FILE, local_secret

from .conftest import DAGS, OBJECT_STORAGE, RUN_TIMEOUT_SECONDS, Cli, Result, worker_backend_env

pytestmark = pytest.mark.e2e

HOSTILE = DAGS / "hostile.py"
HOSTILE_REFERENCE = DAGS / "hostile_reference.py"
TASK_USER = "TASKSTATE__WORKERS__RUN_AS_USER"
# Secrets in the runner's environment, which must not reach the task's.
SECRET_ENV = {"TASKSTATE_API_KEY": "leak-me", "TASKSTATE__STATE_STORE__CLEAR_ON_SUCCESS": "false"}
DENIED_TO_THE_TASK = [
    f"{role} {what}"
    for role in ("supervisor", "runner")
    for what in ("memory", "ptrace", "environment")
]


class Runner:
    """Runs ``taskstate dags test`` with ``python``, as ``user`` (None: this process's)."""

    def __init__(self, python: str, home: Path, user: ThrowawayUser | None) -> None:
        self.python = python
        self.home = home
        self.user = user

    def dags_test(self, env: dict[str, str] | None = None) -> Result:
        base = {k: v for k, v in os.environ.items() if not k.startswith("TASKSTATE")}
        proc = subprocess.Popen(
            [self.python, "-m", "taskstate.cli", "dags", "test", str(HOSTILE)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={
                **base,
                "TASKSTATE_HOME": str(self.home / "home"),
                "HOME": str(self.home),
                "COLUMNS": "200",
                "NO_COLOR": "1",
                **(env or {}),
            },
            cwd=self.home,
            start_new_session=True,
            text=True,
            **(self.user.popen_options() if self.user is not None else {}),
        )
        try:
            out, err = proc.communicate(timeout=RUN_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            out, err = proc.communicate()
            pytest.fail(f"dags test {HOSTILE} did not finish:\n{out}\n{err}")
        return Result(["dags", "test", str(HOSTILE)], proc.returncode, out, err)

    def plant_key_files(self) -> None:
        """The key files a standalone ``taskstate api-server`` leaves in the home."""
        home = self.home / "home"
        for name in (SECRET_KEY_FILE, API_KEY_FILE):
            local_secret(home, name)
        if self.user is not None:
            for path in (home, home / SECRET_KEY_FILE, home / API_KEY_FILE):
                os.chown(path, self.user.uid, self.user.gid)


def attempts(result: Result) -> dict[str, dict[str, Any]]:
    """What the attacker reported, by attempt."""
    found = {}
    for line in result.lines("attacker"):
        if line.startswith("HOSTILE "):
            report = json.loads(line.removeprefix("HOSTILE "))
            found[report.pop("attempt")] = report
    return found


def assert_no_forged_credential_worked(tried: dict[str, dict[str, Any]]) -> None:
    forged = tried["forged token"]
    assert forged["outcome"] == "refused", forged
    # The embedded server was among those tried, and refused every token on every route.
    by_port: dict[str, set[Any]] = {}
    for name, status in forged["statuses"].items():
        by_port.setdefault(name.rsplit(" ", 1)[1], set()).add(status)
    assert {401} in by_port.values(), forged
    assert tried["public api key"]["outcome"] == "refused", tried["public api key"]


@contextmanager
def same_user() -> Iterator[Runner]:
    """The runner as an unprivileged user: a throwaway one when the tests run as root."""
    if os.geteuid() != 0:
        with tempfile.TemporaryDirectory() as home:
            yield Runner(sys.executable, Path(home), None)
        return
    with throwaway_user() as user, interpreter_for(user) as python:
        yield Runner(python, user.home, user)


def test_a_task_of_the_runners_own_user_reaches_no_process_and_no_key() -> None:
    with same_user() as runner:
        runner.plant_key_files()
        run = runner.dags_test(SECRET_ENV)
        assert run.code == 0, str(run)
        tried = attempts(run)
        assert tried["whoami"]["uid"] != 0
        for attempt in DENIED_TO_THE_TASK:
            assert tried[attempt]["outcome"] == "denied", (attempt, str(run))
        assert tried["own environment"] == {"outcome": "clean", "names": []}
        assert_no_forged_credential_worked(tried)
        # Documented in the README: without run_as_user, the files of the home are the task
        # user's own. The key files (of a standalone server) open nothing on the embedded one.
        assert tried["key file secret_key"]["outcome"] == "read"
        assert tried["key file api_key"]["outcome"] == "read"
        assert tried["sqlite file"] == {"outcome": "read", "header": "SQLite format 3\x00"}
        assert "stolen key file heartbeat" in " ".join(tried["forged token"]["statuses"])


def test_the_embedded_server_writes_no_key_file() -> None:
    with same_user() as runner:
        run = runner.dags_test()
        assert run.code == 0, str(run)
        tried = attempts(run)
        assert tried["key file secret_key"]["outcome"] == "absent"
        assert tried["key file api_key"]["outcome"] == "absent"
        assert_no_forged_credential_worked(tried)
        home = runner.home / "home"
        written = {p.name for p in home.iterdir()}
        assert written <= {"logs", "taskstate.db", "taskstate.db-wal", "taskstate.db-shm"}
        assert home.stat().st_mode & 0o777 == 0o700
        assert (home / "taskstate.db").stat().st_mode & 0o777 == 0o600


def test_a_task_run_as_another_user_reaches_nothing(tmp_path: Path) -> None:
    with throwaway_user() as user, interpreter_for(user) as python:
        runner = Runner(python, tmp_path, None)  # the runner as root, the task as ``user``
        runner.plant_key_files()
        run = runner.dags_test({**SECRET_ENV, TASK_USER: user.name})
        assert run.code == 0, str(run)
        tried = attempts(run)
        assert tried["whoami"] == {"outcome": "uid", "uid": user.uid, "euid": user.uid}
        for attempt in [*DENIED_TO_THE_TASK, "key file secret_key", "key file api_key"]:
            assert tried[attempt]["outcome"] == "denied", (attempt, str(run))
        assert tried["sqlite file"] == {"outcome": "denied", "header": ""}
        assert tried["own environment"] == {"outcome": "clean", "names": []}
        assert_no_forged_credential_worked(tried)


def test_run_as_user_is_refused_without_root() -> None:
    with same_user() as runner:
        name = getpass.getuser() if runner.user is None else runner.user.name
        run = runner.dags_test({TASK_USER: name})
    assert run.code == 2, str(run)
    assert run.stderr.startswith(f"error: [workers] run_as_user is '{name}', but taskstate runs")
    assert f"as uid {os.geteuid() if runner.user is None else runner.user.uid}, not root" in (
        run.stderr
    )
    assert "attacker |" not in run.stdout


def test_an_unknown_run_as_user_is_refused(tmp_path: Path) -> None:
    run = Runner(sys.executable, tmp_path, None).dags_test({TASK_USER: "no-such-user-ts"})
    assert run.code == 2, str(run)
    assert run.stderr == (
        "error: [workers] run_as_user names 'no-such-user-ts', which is not a user on this "
        "machine\n"
    )


def test_a_forged_reference_reads_and_removes_nothing(cli: Cli, tmp_path: Path) -> None:
    """``dags/hostile_reference.py``: a task writes another task's object URL as a reference
    into its own state (a raw ``SetState`` frame). Reading it is refused; deleting or clearing
    its own keys leaves the object, which the victim's row still names; and neither does
    ``taskstate state purge`` remove it for the forged keys the public API deleted."""
    cli.env.update(worker_backend_env(OBJECT_STORAGE, root=f"file://{tmp_path / 'objects'}"))
    run = cli.dags_test(HOSTILE_REFERENCE, "--run-id", "r1")
    assert run.code == 0, str(run)
    tried = attempts(run)
    ref = tried["victim object"]["ref"]
    victim_object = Path(ref.removeprefix("file://"))
    assert tried["get"] == {"outcome": "refused", "error": "foreign_reference", "status": 403}
    for attempt in ("delete", "clear"):
        assert tried[attempt] == {"outcome": "kept", "raised": None, "key_left": False}, attempt
    assert tried["left for purge"]["outcome"] == "kept"

    stored = {(e["task_id"], e["key"]): e["ref"] for e in cli.task_state("e2e_hostile_reference")}
    assert stored == {
        ("victim", "secret"): ref,
        ("attacker", "forged kept"): ref,
        ("attacker", "forged kept too"): ref,
    }
    assert json.loads(victim_object.read_text()) == {"card": "4111 1111 1111 1111"}

    def delete(task_id: str, key: str) -> None:
        selector = ("--dag-id", "e2e_hostile_reference", "--run-id", "r1", "--task-id", task_id)
        deleted = cli.run("state", "delete", key, *selector)
        assert deleted.code == 0, str(deleted)

    # Queued by the public API's delete, the forged reference meets the victim's live row.
    delete("attacker", "forged kept")
    purged = cli.run("state", "purge")
    assert purged.code == 0, str(purged)
    assert purged.stdout == "purged 0 queued objects; 1 superseded (a reference names them again)\n"
    assert json.loads(victim_object.read_text()) == {"card": "4111 1111 1111 1111"}

    # Once no row names the object, the forged entry reaches the purge's own scope check: it
    # is refused, and the object goes only for the victim's own entry.
    delete("attacker", "forged kept too")
    delete("victim", "secret")
    purged = cli.run("state", "purge")
    assert purged.code == 0, str(purged)
    assert purged.stdout == (
        "purged 1 queued object; 1 refused (naming another scope's object)\n"
    ), str(purged)
    assert not victim_object.exists()
