"""A task that tries what a hostile task would, against the processes and files around it.

``victim`` stores a value and hands its task-instance id on; ``attacker`` then tries, one by
one, to reach what it must not: the key files and the SQLite file of ``$TASKSTATE_HOME``, a
token of its own making for ``victim`` (signed with a guessed key, and with the key file's key
if it could read it), its supervisor's and the runner's memory (``/proc/PID/mem``, ``ptrace``)
and environment. It prints one line per attempt, ``HOSTILE {"attempt": ..., "outcome": ...}``;
the test asserts each outcome. The task itself succeeds whatever it found.
"""

import ctypes
import json
import os
import time
import urllib.error
import urllib.request
import warnings
from datetime import UTC, datetime
from pathlib import Path

import jwt

from taskstate.sdk import DAG, task

SECRET_ENV = ("TASKSTATE_API_KEY", "TASKSTATE_API_KEY_FILE")
SECRET_ENV_PREFIXES = ("TASKSTATE__API__", "TASKSTATE__DATABASE__", "TASKSTATE__STATE_STORE__")
PTRACE_SEIZE = 0x4206


def report(attempt, outcome, **detail):
    print("HOSTILE " + json.dumps({"attempt": attempt, "outcome": outcome, **detail}))


def read_file(path, size=None):
    """``read``, ``absent`` or ``denied``, and what was read."""
    try:
        with open(path, "rb") as file:
            return "read", file.read(size)
    except FileNotFoundError:
        return "absent", b""
    except PermissionError:
        return "denied", b""


def parent_of(pid):
    # /proc/PID/stat stays readable by everyone, undumpable or not.
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def read_memory(pid):
    """Read a few bytes of a process's memory, as a debugger would."""
    outcome, maps = read_file(f"/proc/{pid}/maps")
    if outcome != "read":
        return outcome
    start = int(maps.split(b"-", 1)[0], 16)
    try:
        with open(f"/proc/{pid}/mem", "rb") as mem:
            mem.seek(start)
            mem.read(16)
    except PermissionError:
        return "denied"
    except OSError as exc:
        return f"error {exc.errno}"
    return "read"


def attach(pid):
    """``ptrace`` the process (SEIZE does not stop it); ``attached`` or ``denied``."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
    if libc.ptrace(PTRACE_SEIZE, pid, None, None) == 0:
        return "attached"  # the tracer's exit, at the end of this task, detaches it
    return "denied" if ctypes.get_errno() in (1, 13) else f"error {ctypes.get_errno()}"


def listening_loopback_ports():
    """The TCP ports listening on 127.0.0.1, as anyone can list them in /proc/net/tcp."""
    ports = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        address, port = local.split(":")
        if state == "0A" and address == "0100007F":
            ports.append(int(port, 16))
    return ports


def call(url, token, method="GET", data=None):
    request = urllib.request.Request(url, method=method, data=data)
    request.add_header("authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("content-type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return response.status, response.read()[:200].decode(errors="replace")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()[:200].decode(errors="replace")
    except Exception as exc:  # not an HTTP server, or not one that answers
        return None, repr(exc)


def taskstate_servers():
    """The loopback ports that answer as a taskstate API server."""
    found = []
    for port in listening_loopback_ports():
        status, body = call(f"http://127.0.0.1:{port}/health", "")
        if status == 200 and "ok" in body:
            found.append(port)
    return found


def forged_tokens(victim, keys):
    now = int(time.time())
    claims = {
        "sub": victim["id"],
        "aud": "taskstate:execution",
        "iat": now,
        "exp": now + 600,
        "dag_id": victim["dag_id"],
        "run_id": victim["run_id"],
        "task_id": victim["task_id"],
        "map_index": victim["map_index"],
        "try_number": 1,
        "assets": {},
    }
    warnings.simplefilter("ignore", jwt.warnings.InsecureKeyLengthWarning)  # "secret" is short
    tokens = {name: jwt.encode(claims, key, algorithm="HS256") for name, key in keys.items()}
    header = jwt.utils.base64url_encode(b'{"alg":"none","typ":"JWT"}').decode()
    payload = jwt.utils.base64url_encode(json.dumps(claims).encode()).decode()
    tokens["alg none"] = f"{header}.{payload}."
    return tokens


with DAG(dag_id="e2e_hostile", start_date=datetime(2026, 1, 1, tzinfo=UTC)):

    @task
    def victim(**context):
        context["task_state"].set("secret", "the victim's value")
        ti = context["ti"]
        return {
            "id": ti.id,
            "dag_id": ti.dag_id,
            "run_id": ti.run_id,
            "task_id": ti.task_id,
            "map_index": ti.map_index,
        }

    @task
    def attacker(target):
        home = Path(os.environ["TASKSTATE_HOME"])
        report("whoami", "uid", uid=os.getuid(), euid=os.geteuid())

        stolen = {}
        for name in ("secret_key", "api_key"):
            outcome, data = read_file(home / name)
            report(f"key file {name}", outcome)
            if outcome == "read":
                stolen[name] = data.decode().strip()

        outcome, data = read_file(home / "taskstate.db", 16)
        report("sqlite file", outcome, header=data.decode(errors="replace"))

        leaked = sorted(
            k for k in os.environ if k in SECRET_ENV or k.startswith(SECRET_ENV_PREFIXES)
        )
        report("own environment", "leaked" if leaked else "clean", names=leaked)

        supervisor = os.getppid()
        runner = parent_of(supervisor)  # the `dags test` process, with the embedded server
        for role, pid in (("supervisor", supervisor), ("runner", runner)):
            report(f"{role} memory", read_memory(pid))
            report(f"{role} ptrace", attach(pid))
            outcome, environ = read_file(f"/proc/{pid}/environ")
            names = sorted(
                entry.split(b"=", 1)[0].decode()
                for entry in environ.split(b"\0")
                if entry.startswith((b"TASKSTATE_API_KEY", b"TASKSTATE__API__"))
            )
            report(f"{role} environment", outcome, secret_names=names)

        keys = {"guessed key": "secret", "guessed long key": "x" * 43}
        if "secret_key" in stolen:
            keys["stolen key file"] = stolen["secret_key"]
        servers = taskstate_servers()
        statuses = {}
        for name, token in forged_tokens(target, keys).items():
            for port in servers:
                base = f"http://127.0.0.1:{port}/execution"
                statuses[f"{name} heartbeat {port}"] = call(
                    f"{base}/task-instances/{target['id']}/heartbeat", token, "POST", b"{}"
                )[0]
                statuses[f"{name} get state {port}"] = call(
                    f"{base}/state/ti/{target['id']}/secret", token
                )[0]
        accepted = sorted(k for k, status in statuses.items() if status and status < 300)
        report(
            "forged token",
            "accepted" if accepted else "refused",
            servers=servers,
            statuses=statuses,
        )

        api_keys = {"guessed": "secret"}
        if "api_key" in stolen:
            api_keys["stolen key file"] = stolen["api_key"]
        public = {
            f"{name} {port}": call(f"http://127.0.0.1:{port}/api/v1/dag-runs", key)[0]
            for name, key in api_keys.items()
            for port in servers
        }
        accepted = sorted(k for k, status in public.items() if status and status < 300)
        report("public api key", "accepted" if accepted else "refused", statuses=public)

    attacker(victim())
