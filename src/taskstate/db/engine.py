"""``Database``: the engines and sessions of the metadata database, and driver error translation.

One URL gives engines on one database: PostgreSQL through psycopg 3, sync and async; SQLite
through the standard ``sqlite3`` module and ``aiosqlite``. The session factories use engines
whose connections run transactions; the autocommit engines, built on first use, serve work that
is a single statement (the state backend's hot path).

Every SQLite connection is set up for a server that writes from several threads and tasks at
once: WAL journal (readers do not block the writer), ``synchronous=NORMAL`` (no fsync per commit
in WAL mode; ``FULL``, an fsync per commit, with ``[database] sqlite_synchronous = "full"``),
foreign keys enforced (state rows cascade with their owner), and a busy timeout instead of an
immediate "database is locked".

Driver errors are translated once, here: :func:`translate_errors` turns any SQLAlchemy or driver
error into :class:`~taskstate.errors.BackendError`, naming the database by its masked URL, except
a value the database cannot hold (a ``DataError``: a number out of its column's range, a NUL
byte in text; or the driver's own refusal to convert it), which is the caller's
:class:`~taskstate.errors.InvalidValueError`. The API checks such values before they reach the
database; this is the net under those checks.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cached_property, partial
from pathlib import Path
from typing import Any, Literal, NoReturn

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DataError,
    InterfaceError,
    OperationalError,
    SQLAlchemyError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session, sessionmaker

from taskstate.errors import BackendError, ConfigError, InvalidValueError

__all__ = [
    "Database",
    "dialect_insert",
    "dialect_of",
    "mask_url",
    "raise_backend_error",
    "raise_unstorable",
    "translate_errors",
]

Dialect = Literal["sqlite", "postgresql"]

_SETTING = "[database] url"

SQLiteSynchronous = Literal["normal", "full"]

_SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=5000",
)

# Driver names accepted in a URL, and the drivers actually used (sync, async).
_DRIVERS: dict[str, tuple[Dialect, str, str]] = {
    "sqlite": ("sqlite", "sqlite+pysqlite", "sqlite+aiosqlite"),
    "sqlite+pysqlite": ("sqlite", "sqlite+pysqlite", "sqlite+aiosqlite"),
    "sqlite+aiosqlite": ("sqlite", "sqlite+pysqlite", "sqlite+aiosqlite"),
    "postgresql": ("postgresql", "postgresql+psycopg", "postgresql+psycopg"),
    "postgresql+psycopg": ("postgresql", "postgresql+psycopg", "postgresql+psycopg"),
    "postgres": ("postgresql", "postgresql+psycopg", "postgresql+psycopg"),
}


def mask_url(url: str | URL) -> str:
    """``url`` with its password hidden, fit for messages and logs."""
    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except ArgumentError:
        return "<unparsable URL>"
    return parsed.render_as_string(hide_password=True)


def _parse(url: str) -> tuple[Dialect, URL, URL]:
    """The dialect and the sync and async URLs for ``url``; ConfigError if it cannot be used."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(
            f"{_SETTING} is not a database URL: {url!r}; use e.g. "
            "sqlite:////path/to/taskstate.db or postgresql://user@host/dbname",
            detail={"setting": _SETTING},
        ) from exc
    known = _DRIVERS.get(parsed.drivername)
    if known is None:
        raise ConfigError(
            f"{_SETTING} uses {parsed.drivername!r}, which taskstate does not support; "
            "use sqlite:///... or postgresql://... (psycopg 3)",
            detail={"setting": _SETTING, "scheme": parsed.drivername},
        )
    dialect, sync_driver, async_driver = known
    if dialect == "sqlite" and parsed.database in (None, "", ":memory:"):
        raise ConfigError(
            f"{_SETTING} names an in-memory SQLite database, which the API server's engines and "
            "the migrations cannot share; use a file, e.g. sqlite:////path/to/taskstate.db",
            detail={"setting": _SETTING},
        )
    return dialect, parsed.set(drivername=sync_driver), parsed.set(drivername=async_driver)


def dialect_of(url: str) -> Dialect:
    """The dialect of ``url``; ConfigError if taskstate cannot use it. Connects to nothing."""
    return _parse(url)[0]


def dialect_insert(dialect: str) -> Callable[..., postgresql.Insert | sqlite.Insert]:
    """The ``insert`` construct of ``dialect``, the one with ``on_conflict_do_*`` (upserts)."""
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def _make_parent(path: Path) -> None:
    """Create the SQLite file's folder and the file itself owner-only: they hold state values."""
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not path.exists():
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    except OSError as exc:
        raise ConfigError(
            f"{_SETTING}: cannot create the folder of the SQLite file {str(path)!r}: {exc}",
            detail={"setting": _SETTING},
        ) from exc


def _set_sqlite_pragmas(
    dbapi_connection: Any, connection_record: Any, *, synchronous: SQLiteSynchronous
) -> None:
    cursor = dbapi_connection.cursor()
    try:
        for pragma in (*_SQLITE_PRAGMAS, f"PRAGMA synchronous={synchronous.upper()}"):
            cursor.execute(pragma)
            cursor.fetchall()
    finally:
        cursor.close()


class Database:
    """The sync and async engines of one metadata database, with their session factories.

    ``url`` may be ``sqlite:///path`` or ``postgresql://...`` (optionally naming the
    ``psycopg`` driver); the drivers are chosen here. Building a ``Database`` connects to
    nothing; the first query does.
    """

    def __init__(
        self,
        url: str,
        *,
        echo: bool = False,
        pool_size: int = 10,
        max_overflow: int = 10,
        sqlite_synchronous: SQLiteSynchronous = "normal",
    ) -> None:
        dialect, sync_url, async_url = _parse(url)
        self.dialect: Dialect = dialect
        self.url: URL = sync_url
        self.async_url: URL = async_url
        self.masked_url: str = mask_url(sync_url)
        self._echo = echo
        self._pool = {"pool_size": pool_size, "max_overflow": max_overflow}
        if sqlite_synchronous not in ("normal", "full"):
            raise ConfigError(
                f"[database] sqlite_synchronous must be 'normal' or 'full', "
                f"not {sqlite_synchronous!r}",
                detail={"setting": "[database] sqlite_synchronous"},
            )
        self._pragmas = partial(_set_sqlite_pragmas, synchronous=sqlite_synchronous)
        if dialect == "sqlite" and sync_url.database:
            _make_parent(Path(sync_url.database))
        self.engine: Engine = self._engine()
        self.async_engine: AsyncEngine = self._async_engine()
        self.session_factory: sessionmaker[Session] = sessionmaker(
            self.engine, expire_on_commit=False
        )
        self.async_session_factory: async_sessionmaker[AsyncSession] = async_sessionmaker(
            self.async_engine, expire_on_commit=False
        )

    def _engine(self, **options: Any) -> Engine:
        engine = create_engine(self.url, echo=self._echo, **self._pool, **options)
        if self.dialect == "sqlite":
            event.listen(engine, "connect", self._pragmas)
        return engine

    def _async_engine(self, **options: Any) -> AsyncEngine:
        engine = create_async_engine(self.async_url, echo=self._echo, **self._pool, **options)
        if self.dialect == "sqlite":
            event.listen(engine.sync_engine, "connect", self._pragmas)
        return engine

    @cached_property
    def autocommit_engine(self) -> Engine:
        """A sync engine whose every statement commits by itself, with its own pool.

        For work that is one statement: it saves the BEGIN and COMMIT round trips, and switching
        a pooled connection in and out of autocommit would cost more than a pool of its own.
        Built on first use.
        """
        return self._engine(isolation_level="AUTOCOMMIT", pool_reset_on_return=None)

    @cached_property
    def async_autocommit_engine(self) -> AsyncEngine:
        """Async twin of :attr:`autocommit_engine`."""
        return self._async_engine(isolation_level="AUTOCOMMIT", pool_reset_on_return=None)

    def __repr__(self) -> str:
        return f"Database({self.masked_url!r})"

    def dispose(self) -> None:
        """Close the pooled connections of the sync engines.

        Async connections must be closed on an event loop: use :meth:`adispose` once the async
        engines have been used.
        """
        self.engine.dispose()
        if "autocommit_engine" in self.__dict__:
            self.autocommit_engine.dispose()

    async def adispose(self) -> None:
        """Close the pooled connections of every engine, sync and async."""
        await self.async_engine.dispose()
        if "async_autocommit_engine" in self.__dict__:
            await self.async_autocommit_engine.dispose()
        self.dispose()


def raise_backend_error(exc: SQLAlchemyError, masked_url: str) -> NoReturn:
    """Raise ``exc`` again as :class:`BackendError`, naming the database by its masked URL; a
    ``DataError`` (a value the database cannot hold) as :class:`InvalidValueError`."""
    cause: BaseException = getattr(exc, "orig", None) or exc
    lines = str(cause).strip().splitlines()
    reason = lines[0] if lines else type(cause).__name__
    if isinstance(exc, DataError):
        raise_unstorable(cause)
    # A lost connection, a restarting server, a lock held too long: the same request may
    # succeed later, and clients retry it. Other errors (a value the column cannot hold) stay.
    transient = isinstance(exc, OperationalError | InterfaceError | PoolTimeoutError) or bool(
        getattr(exc, "connection_invalidated", False)
    )
    raise BackendError(
        f"the metadata database at {masked_url} failed: {reason}",
        detail={"database": masked_url, "error": type(cause).__name__, "transient": transient},
    ) from exc


def raise_unstorable(cause: BaseException) -> NoReturn:
    """Raise a value the database or its driver refused as :class:`InvalidValueError`."""
    lines = str(cause).strip().splitlines()
    reason = lines[0] if lines else type(cause).__name__
    raise InvalidValueError(
        f"a value of the request cannot be stored in the database: {reason}",
        detail={"error": type(cause).__name__},
    ) from cause


@contextmanager
def translate_errors(masked_url: str) -> Iterator[None]:
    """Raise every SQLAlchemy or driver error met inside the block as :class:`BackendError`
    (:class:`InvalidValueError` for a value the database or its driver cannot hold)."""
    try:
        yield
    except SQLAlchemyError as exc:
        raise_backend_error(exc, masked_url)
    except (OverflowError, UnicodeEncodeError) as exc:
        # The drivers' refusals to convert a value (sqlite3: an int beyond 64 bits; both: a
        # string with a lone surrogate), raised before SQLAlchemy sees a database error.
        raise_unstorable(exc)
