"""Running the API server: embedded in a thread on a free loopback port, or standalone."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Callable
from types import TracebackType

import uvicorn
from starlette.types import ASGIApp

from taskstate.api.app import build_state, create_app
from taskstate.config import Settings
from taskstate.errors import RuntimeFailure

__all__ = ["EmbeddedServer", "serve"]

_START_TIMEOUT_SECONDS = 30.0
# Supervisors keep one connection open for a whole task; don't close it between two heartbeats.
KEEP_ALIVE_SECONDS = 75


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
        self.port = port
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
    access_log: bool = False,
) -> None:
    """Run the API server in the foreground until interrupted.

    The access log is off by default: it costs about as much as a state operation itself.
    """
    state = build_state(settings)
    uvicorn.run(
        create_app(settings, state=state),
        host=host or settings.api.host,
        port=port if port is not None else settings.api.port,
        log_level="info",
        access_log=access_log,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )
