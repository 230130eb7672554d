"""The purge race through the whole path: task processes under their supervisors set keys
(``dags/purge_race.py``) while their state is cleared through the public API and the purge
queue drains, against one API server. Every acknowledged set must read back: 0 lost.

The worker backend's references are the same for every write of a key, so a purge of a cleared
key and the next set of it name one object; the API-layer race at scale is
``benchmarks/purge_race.py``, and ``tests/api/test_purge_race.py`` runs it on both databases.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from taskstate.cli.purge import drain_queue
from taskstate.client.public import PublicClient
from taskstate.errors import NotFoundError
from taskstate.runtime.worker_backend import WorkerBackend

from .conftest import DAGS, SERVER_LISTENING, Cli, worker_backend_env

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

DAG = DAGS / "purge_race.py"
SETS = int(os.environ.get("E2E_RACE_SETS", "300"))
"""Sets per writer (4 writers); more for a longer race, e.g. ``E2E_RACE_SETS=2000 pytest
tests/e2e/test_purge_race.py -o timeout=1800``."""


def test_no_set_of_a_running_task_is_lost_to_a_purge(
    make_cli: Callable[..., Cli], tmp_path: Path
) -> None:
    import sys

    sys.path.insert(0, str(DAGS))  # the worker backend's module, as `state purge --path` does
    try:
        from file_state_backend import FileStateBackend  # type: ignore[import-not-found]
    finally:
        sys.path.remove(str(DAGS))

    root = tmp_path / "objects"
    root.mkdir()
    cli = make_cli(
        "purge-race", worker_backend_env("file_state_backend.FileStateBackend", root=str(root))
    )
    stop = threading.Event()
    counts = {"clears": 0, "purged": 0, "superseded": 0}
    failures: list[BaseException] = []
    with cli.api_server("--port", "0") as server:
        [listening] = server.wait_for(SERVER_LISTENING)
        url = listening[1]
        key = (cli.home / "api_key").read_text().strip()
        worker = WorkerBackend(FileStateBackend(str(root)))

        def clear_and_drain() -> None:
            with PublicClient(url, key) as public:
                try:
                    while not stop.is_set():
                        try:
                            public.clear_task_state(
                                "e2e_purge_race", "r1", "writer", all_map_indices=True
                            )
                            counts["clears"] += 1
                        except NotFoundError:  # the run or its task instances not created yet
                            pass
                        done = drain_queue(public, worker)
                        counts["purged"] += done.purged
                        counts["superseded"] += done.superseded
                        stop.wait(0.01)
                except BaseException as exc:
                    failures.append(exc)

        thread = threading.Thread(target=clear_and_drain)
        thread.start()
        try:
            run = cli.dags_test(
                DAG,
                "--run-id",
                "r1",
                "--api-url",
                url,
                "--api-key-file",
                str(cli.home / "api_key"),
                env={"E2E_RACE_SETS": str(SETS)},
                timeout=max(200, SETS),
            )
        finally:
            stop.set()
            thread.join()
    assert not failures, failures
    assert run.code == 0, str(run)
    reports = [
        json.loads(line.split("RACE ", 1)[1])
        for line in run.stdout.splitlines()
        if "RACE {" in line
    ]
    assert sorted(r["writer"] for r in reports) == [0, 1, 2, 3], str(run)
    assert [r["lost"] for r in reports] == [[], [], [], []]
    assert sum(r["sets"] for r in reports) == 4 * SETS
    assert counts["clears"] > 0 and counts["purged"] > 0, counts
