"""Running the API server: embedded in a thread on a free loopback port, or standalone.

Standalone (``taskstate api-server``), the server runs in this process, or in several worker
processes sharing one listening socket (``[api] workers``). With workers, this process prepares
everything they share before any of them starts: it migrates the schema and creates the
generated keys, so that no two workers race on either, and checks the state backend's settings,
so that a mistake is reported once, here. It then binds the socket and supervises the workers
(uvicorn's ``Multiprocess``: a worker that dies is replaced; SIGINT or SIGTERM stops them all
gracefully). The settings, built once here, reach each worker pickled through the pipe that
multiprocessing starts it with, never on its command line or in its environment, so no secret
shows in a process listing; each worker builds its own engines and backend from them. Every
process of the server makes itself undumpable (:mod:`taskstate.hardening`) before it holds a
key.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import functools
import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import Any

import uvicorn
from starlette.types import ASGIApp
from uvicorn.supervisors import Multiprocess

from taskstate.api.app import build_state, create_app
from taskstate.config import Settings
from taskstate.db.engine import dialect_of
from taskstate.errors import ConfigError, RuntimeFailure
from taskstate.hardening import make_undumpable

__all__ = ["EmbeddedServer", "checked_port", "serve"]

_START_TIMEOUT_SECONDS = 30.0
# Supervisors keep one connection open for a whole task; don't close it between two heartbeats.
KEEP_ALIVE_SECONDS = 75
# On SIGINT or SIGTERM, requests in flight get this long to finish; idle connections close at once.
GRACEFUL_SHUTDOWN_SECONDS = 30


def checked_port(port: int, where: str) -> int:
    """``port`` if it is a TCP port (0 picks a free one); else ConfigError naming ``where``.

    The socket layer would not refuse 70000: it would bind 70000 mod 65536 = 4464.
    """
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ConfigError(
            f"{where} = {port!r} is not a TCP port: give 1 to 65535, or 0 to pick a free one",
            detail={"setting": where, "port": str(port)},
        )
    return port


class _PromptServer(uvicorn.Server):
    """uvicorn's server, stopping as soon as asked.

    uvicorn polls for a stop request every 0.1 s and waits another 0.1 s for connections when
    shutting down: 0.2 s of every ``taskstate`` command that embeds the server. Here a stop is
    an event, and the connections (idle, since every client is done) are closed at once.
    """

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None

    async def main_loop(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        # uvicorn's own loop, with the sleep between ticks replaced by the stop event: on_tick
        # still refreshes the Date header and reports should_exit.
        counter = 0
        while not await self.on_tick(counter):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), 1.0)
            counter += 10

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        for server in self.servers:
            server.close()
        for connection in list(self.server_state.connections):
            connection.shutdown()
        await self.lifespan.shutdown()

    def request_stop(self) -> None:
        self.should_exit = True
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)


class EmbeddedServer:
    """The API server in a background thread of this process, for ``dags test`` and the CLI.

    ``with EmbeddedServer(settings) as server:`` serves on ``server.url`` until the block ends.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        middleware: Callable[[ASGIApp], ASGIApp] | None = None,
    ) -> None:
        self.settings = settings
        self.host = host
        self.port = checked_port(port, "port")
        self._middleware = middleware
        """Wraps the app, e.g. to measure its traffic (benchmarks/large_value.py)."""
        self.url = ""
        self._server: _PromptServer | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> EmbeddedServer:
        state = build_state(self.settings)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        self.url = f"http://{self.host}:{self.port}"
        app: ASGIApp = create_app(self.settings, state=state)
        if self._middleware is not None:
            app = self._middleware(app)
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="on",
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
        )
        server = _PromptServer(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="taskstate-api", daemon=True
        )
        thread.start()
        self._server, self._thread = server, thread
        # uvicorn offers no start-up event to wait on, only this flag.
        deadline = time.monotonic() + _START_TIMEOUT_SECONDS
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                server.request_stop()
                sock.close()
                raise RuntimeFailure(f"the embedded API server on {self.url} failed to start")
            time.sleep(0.002)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._server is not None and self._thread is not None:
            self._server.request_stop()
            self._thread.join()


def serve(
    settings: Settings,
    *,
    host: str | None = None,
    port: int | None = None,
    workers: int | None = None,
    access_log: bool = False,
) -> None:
    """Run the API server in the foreground until SIGINT or SIGTERM, then stop gracefully.

    ``workers`` (default ``[api] workers``) processes serve the one database; more than one
    needs PostgreSQL (see :func:`_check_workers`). The access log is off by default: it costs
    about as much as a state operation itself.
    """
    make_undumpable("API server")  # before it holds a key
    count = workers if workers is not None else settings.api.workers
    bound = checked_port(port, "--port") if port is not None else settings.api.port
    _check_workers(settings, count)
    state = build_state(settings)  # migrates, creates the keys, checks the backend's settings
    options: dict[str, Any] = {
        "host": host or settings.api.host,
        "port": bound,
        "log_level": "info",
        "access_log": access_log,
        "timeout_keep_alive": KEEP_ALIVE_SECONDS,
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_SECONDS,
    }
    if count == 1:
        uvicorn.run(create_app(settings, state=state), **options)
        return
    asyncio.run(state.aclose())  # each worker builds its own
    config = uvicorn.Config(
        functools.partial(_worker_app, settings),
        factory=True,
        workers=count,
        log_config=_log_config_with_pids(),
        **options,
    )
    Multiprocess(config, sockets=[config.bind_socket()]).run()


def _worker_app(settings: Settings) -> ASGIApp:
    """The app of one worker process, which is dumpable again after its exec: made
    undumpable before it builds anything that holds a key."""
    make_undumpable("API server worker")
    return create_app(settings)


def _check_workers(settings: Settings, count: int) -> None:
    """Refuse several workers on SQLite.

    SQLite lets one connection write at a time, and the metastore runs its SQLite statements on
    the event loop: workers would take turns at the file's lock, each one's loop stalled while
    it waits, for no more throughput than one process gives.
    """
    if count > 1 and dialect_of(settings.database.url) == "sqlite":
        raise ConfigError(
            f"[api] workers is {count}, but [database] url is a SQLite database, which takes "
            "one writer at a time; run one worker, or use PostgreSQL "
            "(postgresql://user@host/dbname) to serve it with several",
            detail={"setting": "[api] workers", "workers": count, "database": "sqlite"},
        )


def _log_config_with_pids() -> dict[str, Any]:
    """uvicorn's logging, with the process id on every line: several workers share the output."""
    config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    for formatter in config["formatters"].values():
        formatter["fmt"] = "[%(process)d] " + formatter["fmt"]
    return config
