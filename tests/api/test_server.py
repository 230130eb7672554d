"""Starting the API server: ports checked before anything is bound or created, and the
database's settings applied to the engines it builds."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import pytest
from sqlalchemy import text

from taskstate.api.app import build_state
from taskstate.api.server import EmbeddedServer, checked_port, serve
from taskstate.config import Settings
from taskstate.errors import BackendOptionError, ConfigError


@pytest.mark.parametrize("port", [0, 1, 8080, 65535])
def test_ports_in_range_are_kept(port: int) -> None:
    assert checked_port(port, "--port") == port


@pytest.mark.parametrize("port", [-1, 65536, 70000, 2**64, True])
def test_ports_out_of_range_are_refused(port: int) -> None:
    with pytest.raises(ConfigError, match=r"--port = .* is not a TCP port") as caught:
        checked_port(port, "--port")
    assert caught.value.detail["setting"] == "--port"


def test_serve_refuses_a_bad_port_before_touching_anything(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    with pytest.raises(ConfigError, match="--port = 70000 is not a TCP port"):
        serve(settings, port=70000)
    assert not (settings.home / "taskstate.db").exists()


def test_embedded_server_refuses_a_bad_port(make_settings: Callable[..., Settings]) -> None:
    with pytest.raises(ConfigError, match="port = 70000"):
        EmbeddedServer(make_settings(), port=70000)


@pytest.mark.parametrize(("mode", "level"), [("normal", 1), ("full", 2)])
def test_the_server_applies_sqlite_synchronous(
    make_settings: Callable[..., Settings], mode: str, level: int
) -> None:
    settings = make_settings(TASKSTATE__DATABASE__SQLITE_SYNCHRONOUS=mode)
    if settings.database.url.startswith("postgresql"):
        pytest.skip("a SQLite setting")
    state = build_state(settings)
    try:
        for engine in (state.database.engine, state.database.autocommit_engine):
            with engine.connect() as conn:
                assert conn.execute(text("PRAGMA synchronous")).scalar() == level
    finally:
        asyncio.run(state.aclose())


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"pool": 3}, BackendOptionError),
        ({"url": "redis://127.0.0.1:6379/15", "prefx": "p"}, BackendOptionError),
    ],
)
def test_a_bad_server_backend_is_refused_before_the_schema(
    make_settings: Callable[..., Settings], kwargs: dict[str, object], error: type[Exception]
) -> None:
    backend = "redis" if "url" in kwargs else "metastore"
    settings = make_settings(
        TASKSTATE__STATE_STORE__BACKEND=backend,
        TASKSTATE__STATE_STORE__BACKEND_KWARGS=json.dumps(kwargs),
    )
    if not settings.database.url.startswith("sqlite"):
        pytest.skip("looks at the SQLite file")
    with pytest.raises(error, match="backend_kwargs"):
        build_state(settings)
    path = Path(settings.database.url.removeprefix("sqlite:///"))
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("SELECT count(*) FROM sqlite_master").fetchone() == (0,)
