"""The API server or its database goes away mid-run; the run completes all the same.

The writer task sets 40 keys; after 10 it waits while the test injects the fault, then sets the
other 30 through it. Clients retry what failed transiently (``[api] client_retry_seconds``), so
every try ends, the run succeeds, and every write a task saw acknowledged is stored.
"""

from __future__ import annotations

import os
import signal
import threading

import pytest

from .conftest import Faults, free_port, run_of, run_summary

pytestmark = pytest.mark.faults

RUN_ID = "r1"


def _assert_completed(faults: Faults, code: int, output: str, *server: str) -> None:
    assert code == 0, output
    assert run_summary(output) == {"writer": ("success", 1), "reader": ("success", 1)}, output
    assert run_of(faults, "faults_writes", RUN_ID, *server)["state"] == "success"
    faults.acked_keys_present("faults_writes", RUN_ID, *server)
    faults.assert_no_task_left()


def test_the_api_server_killed_and_restarted_mid_run(faults: Faults) -> None:
    port = free_port()
    server_args = ("--api-url", f"http://127.0.0.1:{port}")
    with faults.server(port) as server:
        run = faults.start_run("faults_writes", "--run-id", RUN_ID, *server_args)
        run.wait_for(r"writer \| READY")
        server.kill()  # SIGKILL: no graceful shutdown, connections cut
    faults.go()  # the writer sets its other keys while no server listens
    restarted = threading.Event()
    # Down for 1.5 s, as in the finding, then back on the same port and database.
    threading.Timer(1.5, restarted.set).start()
    restarted.wait()
    with faults.server(port):
        code, output = faults.end_of(run)
        _assert_completed(faults, code, output, *server_args)


def test_the_api_server_stopped_for_20_seconds(faults: Faults) -> None:
    port = free_port()
    server_args = ("--api-url", f"http://127.0.0.1:{port}")
    with faults.server(port) as server:
        run = faults.start_run("faults_writes", "--run-id", RUN_ID, *server_args)
        run.wait_for(r"writer \| READY")
        os.kill(server.proc.pid, signal.SIGSTOP)
        faults.go()
        resumed = threading.Event()
        threading.Timer(20.0, resumed.set).start()
        resumed.wait()
        os.kill(server.proc.pid, signal.SIGCONT)
        code, output = faults.end_of(run)
        _assert_completed(faults, code, output, *server_args)


def test_database_connections_killed_three_times_in_a_row(faults: Faults) -> None:
    url = faults.cli.settings().database.url
    if not url.startswith("postgresql"):
        pytest.skip("kills database connections with pg_terminate_backend: --database=postgres")
    import psycopg
    from sqlalchemy.engine import make_url

    target = make_url(url)
    port = free_port()
    server_args = ("--api-url", f"http://127.0.0.1:{port}")
    with faults.server(port):
        run = faults.start_run("faults_writes", "--run-id", RUN_ID, *server_args)
        run.wait_for(r"writer \| READY")
        admin = target.set(drivername="postgresql", database="postgres")
        killed = 0
        with psycopg.connect(admin.render_as_string(hide_password=False), autocommit=True) as db:
            for _ in range(3):
                rows = db.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = %s AND pid <> pg_backend_pid()",
                    (target.database,),
                ).fetchall()
                killed += len(rows)
                faults.go()  # the writer's next sets meet the broken connections
        assert killed >= 1
        code, output = faults.end_of(run)
        _assert_completed(faults, code, output, *server_args)
