"""One persistent HTTP/1.1 connection to the API server: the supervisor's hot path.

Every ``get``/``set`` of a task is one request here, so its cost is the floor of the whole
path. Measured against a plain FastAPI route on loopback (2 cores), a request costs ~230 µs with
the standard library's ``http.client``, ~310 µs with urllib3 and ~510 µs with httpx, whose
pure-Python URL and h11 handling dominate. A supervisor talks to one host over one connection,
so it needs none of a pool's machinery: only keep-alive, detecting a connection the server has
closed while idle, and a time-out. That is this module; the public client keeps httpx.
"""

from __future__ import annotations

import http.client
import select
import socket
from urllib.parse import urlsplit

from taskstate.errors import APIConnectionError, UsageError

__all__ = ["KeepAliveConnection"]

# A request that failed on a reused connection before any answer came is sent once more only if
# repeating it is harmless.
_IDEMPOTENT = frozenset({"GET", "PUT", "DELETE", "HEAD"})
_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


class KeepAliveConnection:
    def __init__(self, base_url: str, *, timeout: float) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UsageError(f"the API URL must be http(s)://host[:port], not {base_url!r}")
        self.base_url = base_url
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port or (443 if self._https else 80)
        self._prefix = parts.path.rstrip("/")
        self._timeout = timeout
        self._conn: http.client.HTTPConnection | None = None

    last_etag: str | None = None
    """The ``ETag`` of the last answer (a key's version), None if it had none."""

    def _connect(self) -> http.client.HTTPConnection:
        cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        conn = cls(self._host, self._port, timeout=self._timeout)
        conn.connect()
        assert conn.sock is not None
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    def _reusable(self) -> http.client.HTTPConnection | None:
        """The open connection, unless the server closed it while it was idle."""
        conn = self._conn
        if conn is None or conn.sock is None:
            return None
        readable, _, _ = select.select([conn.sock], [], [], 0)
        if readable:  # an idle connection is readable only when the server has closed it
            conn.close()
            self._conn = None
            return None
        return conn

    def request(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[int, bytes]:
        """Send one request; return the status and the body of the answer."""
        url = self._prefix + path
        for attempt in (1, 2):
            conn = self._reusable()
            reused = conn is not None
            try:
                if conn is None:
                    conn = self._conn = self._connect()
                conn.request(method, url, body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
            except TimeoutError as exc:
                self.close()
                raise APIConnectionError(
                    f"the API server at {self.base_url} did not answer in time"
                ) from exc
            except _STALE as exc:
                self.close()
                if attempt == 1 and reused and method in _IDEMPOTENT:
                    continue
                raise APIConnectionError(
                    f"the API server at {self.base_url} closed the connection: {exc!r}"
                ) from exc
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                raise APIConnectionError(
                    f"cannot reach the API server at {self.base_url}: {exc}"
                ) from exc
            if response.will_close:
                self.close()
            self.last_etag = response.getheader("etag")
            return response.status, data
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
