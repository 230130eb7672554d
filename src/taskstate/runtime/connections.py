"""``context["conn"]``: Airflow Connections, read from the task process's environment.

``conn.ID`` is the connection defined by ``TASKSTATE_CONN_ID``, else ``AIRFLOW_CONN_ID`` (the id
upper-cased, as Airflow's environment-variables secrets backend looks it up): a URI such as
``postgres://user:p%40ss@db.example:5432/orders?sslmode=require`` (parsed with the standard
library, as Airflow parses it: the scheme is the type, the path the schema, the query the
extra, or ``__extra__`` holding the extra as JSON), or a JSON object with ``conn_type``,
``host``, ``login``, ``password``, ``schema``, ``port`` and ``extra``. A connection that is
defined in neither raises :class:`~taskstate.errors.ConnectionNotFoundError` (also a KeyError),
unless read with ``conn.get(id)``.

taskstate has no connection store: the environment is the only source, read at each access.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from taskstate.errors import ConnectionNotFoundError, InvalidValueError

__all__ = ["ENV_PREFIXES", "Connection", "ConnectionAccessor", "parse_connection"]

ENV_PREFIXES = ("TASKSTATE_CONN_", "AIRFLOW_CONN_")
"""Where a connection is looked up, first match wins."""

_EXTRA_KEY = "__extra__"


@dataclass(frozen=True)
class Connection:
    """A connection's parts, as Airflow names them; ``extra`` is JSON text (or None)."""

    conn_id: str
    conn_type: str | None = None
    host: str | None = None
    schema: str | None = None
    login: str | None = None
    password: str | None = None
    port: int | None = None
    extra: str | None = None

    def __repr__(self) -> str:
        # The password stays out of logs and tracebacks.
        return f"Connection({self.conn_id!r}, type={self.conn_type!r}, host={self.host!r})"

    @property
    def extra_dejson(self) -> dict[str, Any]:
        """``extra`` parsed: a dict (empty when there is none)."""
        if not self.extra:
            return {}
        parsed = json.loads(self.extra)
        return parsed if isinstance(parsed, dict) else {}


def _conn_type(scheme: str) -> str:
    if scheme == "postgresql":
        return "postgres"
    return scheme.replace("-", "_")


def _from_uri(conn_id: str, uri: str) -> Connection:
    if uri.count("://") > 2:
        raise InvalidValueError(f"connection {conn_id!r}: malformed URI")
    scheme, _, rest = uri.partition("://")
    protocol = None
    if "://" in rest:  # a host with a protocol of its own: http://https://example.com
        protocol, _, rest = rest.partition("://")
    parts = urlsplit("//" + rest)
    host = unquote(parts.hostname or "")
    if "/" in host:  # an encoded path in the host, which hostname would mangle
        host = unquote(parts.netloc.rsplit("@", 1)[-1].split(":", 1)[0])
    extra = None
    if parts.query:
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        extra = query[_EXTRA_KEY] if _EXTRA_KEY in query else json.dumps(query)
    try:
        port = parts.port
    except ValueError as exc:
        raise InvalidValueError(f"connection {conn_id!r}: {exc}") from exc
    return Connection(
        conn_id=conn_id,
        conn_type=_conn_type(scheme),
        # Empty strings, not None, for a missing host or schema: what Airflow's parser gives.
        host=f"{protocol}://{host}" if protocol and host else host,
        schema=unquote(parts.path[1:]),
        login=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        port=port,
        extra=extra,
    )


def _from_json(conn_id: str, text: str) -> Connection:
    try:
        fields = json.loads(text)
    except ValueError as exc:
        raise InvalidValueError(f"connection {conn_id!r} is not valid JSON: {exc}") from exc
    if not isinstance(fields, dict):
        raise InvalidValueError(f"connection {conn_id!r}: a JSON connection is an object")
    extra = fields.get("extra")
    port = fields.get("port")
    try:
        port = int(port) if port not in (None, "") else None
    except (TypeError, ValueError) as exc:
        raise InvalidValueError(f"connection {conn_id!r}: port {port!r} is not a number") from exc
    conn_type = fields.get("conn_type")
    return Connection(
        conn_id=conn_id,
        conn_type=_conn_type(conn_type) if conn_type else None,
        host=fields.get("host"),
        schema=fields.get("schema"),
        login=fields.get("login"),
        password=fields.get("password"),
        port=port,
        extra=extra if isinstance(extra, str) or extra is None else json.dumps(extra),
    )


def parse_connection(conn_id: str, text: str) -> Connection:
    """The connection ``conn_id`` defined by ``text``: a URI or a JSON object."""
    text = text.strip()
    return _from_json(conn_id, text) if text.startswith("{") else _from_uri(conn_id, text)


class ConnectionAccessor:
    """``conn.ID`` and ``conn.get(ID, default_conn=None)``."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._environ = environ

    def __repr__(self) -> str:
        return "<conn: from TASKSTATE_CONN_*, AIRFLOW_CONN_*>"

    def __getattr__(self, conn_id: str) -> Connection:
        if conn_id.startswith("__"):  # copy, pickle and friends probe for dunders
            raise AttributeError(conn_id)
        found = self.get(conn_id)
        if not isinstance(found, Connection):
            raise ConnectionNotFoundError(
                f"connection {conn_id!r} is not defined: taskstate reads connections from the "
                f"environment ({' or '.join(p + conn_id.upper() for p in ENV_PREFIXES)})",
                detail={"conn_id": conn_id},
            )
        return found

    def get(self, conn_id: str, default_conn: Any = None) -> Any:
        """The connection ``conn_id``, or ``default_conn`` when it is not defined."""
        environ = os.environ if self._environ is None else self._environ
        for prefix in ENV_PREFIXES:
            text = environ.get(prefix + conn_id.upper())
            if text is not None:
                return parse_connection(conn_id, text)
        return default_conn
