"""``taskstate api-server``: one process on the home's database, stopped by SIGINT or SIGTERM;
several workers are refused on SQLite (tests/e2e/test_postgres_server.py runs them on
PostgreSQL)."""

from __future__ import annotations

import signal

import httpx
import pytest

from .conftest import SERVER_LISTENING, Cli

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_one_process_serves_until_a_signal_then_stops_gracefully(
    cli: Cli, sig: signal.Signals
) -> None:
    with cli.api_server("--port", "0") as server:
        [listening] = server.wait_for(SERVER_LISTENING)
        answer = httpx.get(f"{listening[1]}/health", timeout=30)
        assert answer.status_code == 200
        code = server.stop(sig)
    # Once shut down, uvicorn raises the signal it stopped for again: SIGTERM ends the
    # process as SIGTERM would have; SIGINT's KeyboardInterrupt is caught and ends it with 0.
    assert code == (-signal.SIGTERM if sig == signal.SIGTERM else 0), server.lines
    assert server.matches("Application shutdown complete")
    assert server.matches("Traceback") == []


@pytest.mark.sqlite_home
@pytest.mark.parametrize(
    ("args", "env", "workers"),
    [(["--workers", "2"], {}, 2), ([], {"TASKSTATE__API__WORKERS": "3"}, 3)],
    ids=["option", "setting"],
)
def test_several_workers_on_sqlite_are_refused_before_anything_is_created(
    cli: Cli, args: list[str], env: dict[str, str], workers: int
) -> None:
    result = cli.run("api-server", *args, env=env)
    assert result.code == 2, str(result)
    assert result.stderr.startswith(
        f"error: [api] workers is {workers}, but [database] url is a SQLite database"
    ), str(result)
    assert "use PostgreSQL" in result.stderr
    assert sorted(p.name for p in cli.home.iterdir()) == []


def test_help_describes_workers_and_stopping(cli: Cli) -> None:
    result = cli.run("api-server", "--help")
    assert result.code == 0, str(result)
    text = " ".join(result.stdout.split())
    assert "--workers" in text and "[api] workers" in text and "needs PostgreSQL" in text
    assert "SIGTERM" in text
