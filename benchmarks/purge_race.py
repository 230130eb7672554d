"""The purge race at scale: no acknowledged set lost while keys are cleared and purged.

Writers set keys of one task instance through the execution API, storing each value first
under a reference that is the same for every write of a key (the seed's ``MemoryStateBackend``
and Airflow 3.3.2's rules make references so); a clearer deletes and clears keys through the
public API, and a drainer runs ``taskstate state purge``'s drain all the while. After every
acknowledged set the writer reads the key back; a live row naming a purged object is a lost
write (see ``taskstate.testing.purge_race``). Before purges were claimed and sets guarded, 507
of 11,900 acknowledged sets were lost this way.

The API server is ``taskstate api-server`` in its own process, on SQLite under a fresh
``TASKSTATE_HOME`` or on a temporary PostgreSQL database, with the state in that database or
(``--state redis``) in Redis under a temporary prefix. Run from the repository root::

    .venv/bin/python benchmarks/purge_race.py [--database sqlite|postgres|both]
        [--state metastore|redis] [--sets 119000] [--writers 4] [--keys 8]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from taskstate.client.execution import ExecutionClient
from taskstate.client.public import PublicClient
from taskstate.testing.postgres import temporary_database
from taskstate.testing.purge_race import run_race
from taskstate.testing.redis import available_server_url, temporary_prefix

_MAIN = "import sys; from taskstate.cli.main import main; sys.exit(main())"
KEY = "bench"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def _server(home: Path, database_url: str | None, state: dict[str, str]) -> Iterator[str]:
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "TASKSTATE_HOME": str(home), "TASKSTATE__API__API_KEYS": f'["{KEY}"]'}
    env.pop("TASKSTATE__DATABASE__URL", None)
    if database_url is not None:
        env["TASKSTATE__DATABASE__URL"] = database_url
    env.update(state)
    proc = subprocess.Popen(
        [sys.executable, "-c", _MAIN, "api-server", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/health").status_code == 200:
                    break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the API server did not start") from None
                time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _progress(done: int, every: int) -> None:
    if done % every == 0:
        print(f"  {done} sets", flush=True)


def _redis_state(stack: contextlib.ExitStack) -> dict[str, str]:
    """The settings of a Redis state backend under a prefix of its own, removed afterwards."""
    url = available_server_url()
    prefix = stack.enter_context(temporary_prefix(url))
    kwargs = {"url": url, "prefix": prefix, "allow_volatile": True}
    return {
        "TASKSTATE__STATE_STORE__BACKEND": "redis",
        "TASKSTATE__STATE_STORE__BACKEND_KWARGS": json.dumps(kwargs),
    }


def race(database: str, state: str, *, sets: int, writers: int, keys: int) -> None:
    with contextlib.ExitStack() as stack:
        home = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="purge-race-")))
        database_url = stack.enter_context(temporary_database()) if database == "postgres" else None
        state_env = _redis_state(stack) if state == "redis" else {}
        url = stack.enter_context(_server(home, database_url, state_env))
        with PublicClient(url, KEY) as public:
            body = public.create_run(
                {"dag_id": "race", "run_id": "r1", "tasks": [{"task_id": "writer"}]}
            )
            ti_id = body["task_instances"][0]["id"]
            token = public.queue_task_instance(ti_id)["token"]
        client = ExecutionClient(url, token)
        try:
            client.start(ti_id, pid=os.getpid(), hostname="bench")
        finally:
            client.close()
        progress_every = max(sets // 10, 1)
        name = database if state == "metastore" else f"{database} + {state}"
        print(f"{name}: {sets} sets, {writers} writers, {keys} keys ...", flush=True)
        report = run_race(
            url,
            lambda: PublicClient(url, KEY),
            ti_id,
            token,
            ("race", "r1", "writer"),
            sets=sets,
            writers=writers,
            keys=keys,
            progress=lambda done: _progress(done, progress_every),
        )
    print(
        f"{name}: {report.sets} acknowledged sets, {report.lost} lost; "
        f"{report.cleared} clears and deletes, {report.purged} objects purged, "
        f"{report.superseded} entries superseded, {report.restored} sets stored their object "
        f"again after a purge; {report.seconds:.0f} s"
    )
    for loss in report.losses[:10]:
        print(f"  lost: {loss}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=("sqlite", "postgres", "both"), default="sqlite")
    parser.add_argument(
        "--state",
        choices=("metastore", "redis"),
        default="metastore",
        help="where the API server keeps state: the metadata database, or Redis",
    )
    parser.add_argument("--sets", type=int, default=119_000)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--keys", type=int, default=8)
    args = parser.parse_args()
    databases = ("sqlite", "postgres") if args.database == "both" else (args.database,)
    for database in databases:
        race(database, args.state, sets=args.sets, writers=args.writers, keys=args.keys)


if __name__ == "__main__":
    main()
