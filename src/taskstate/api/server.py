"""Running the API server: embedded in a thread on a free loopback port, or standalone."""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType

import uvicorn

from taskstate.api.app import build_state, create_app
from taskstate.config import Settings
from taskstate.errors import RuntimeFailure

__all__ = ["EmbeddedServer", "serve"]

_START_TIMEOUT_SECONDS = 30.0


class EmbeddedServer:
    """The API server in a background thread of this process, for ``dags test`` and the CLI.

    ``with EmbeddedServer(settings) as server:`` serves on ``server.url`` until the block ends.
    """

    def __init__(self, settings: Settings, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.settings = settings
        self.host = host
        self.port = port
        self.url = ""
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> EmbeddedServer:
        state = build_state(self.settings)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        self.url = f"http://{self.host}:{self.port}"
        config = uvicorn.Config(
            create_app(self.settings, state=state),
            log_level="warning",
            access_log=False,
            lifespan="on",
        )
        server = uvicorn.Server(config)
        thread = threading.Thread(
            target=server.run, kwargs={"sockets": [sock]}, name="taskstate-api", daemon=True
        )
        thread.start()
        self._server, self._thread = server, thread
        # uvicorn offers no start-up event to wait on, only this flag.
        deadline = time.monotonic() + _START_TIMEOUT_SECONDS
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                server.should_exit = True
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
            self._server.should_exit = True
            self._thread.join()


def serve(settings: Settings, *, host: str | None = None, port: int | None = None) -> None:
    """Run the API server in the foreground until interrupted."""
    state = build_state(settings)
    uvicorn.run(
        create_app(settings, state=state),
        host=host or settings.api.host,
        port=port if port is not None else settings.api.port,
        log_level="info",
    )
