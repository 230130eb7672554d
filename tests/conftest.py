"""Fixtures every layer's tests share: settings in a private home, a real API server.

Every home a test uses has a database of its own: by default the SQLite file under the home,
which needs no setting. ``pytest --database=postgres`` gives each home instead a PostgreSQL
database of its own (on the server of ``TASKSTATE_TEST_POSTGRES_URL``), copied from a template
migrated once per session and dropped when the test (or, for ``make_cli``, the module) ends.
The fixtures that build settings or run the command (``make_settings``, ``settings``,
``api_server``, ``tests/cli``'s ``cli``, ``tests/e2e``'s ``cli`` and ``make_cli``) set
``TASKSTATE__DATABASE__URL`` accordingly, unless the test sets it itself. A test marked
``sqlite_home`` checks the SQLite default itself and keeps it on both passes.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from taskstate.config import Settings, load_settings

DATABASE_URL_VAR = "TASKSTATE__DATABASE__URL"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--database",
        choices=("sqlite", "postgres"),
        default="sqlite",
        help="the database of every test home: a SQLite file under it (default), or a "
        "PostgreSQL database of its own on the server of TASKSTATE_TEST_POSTGRES_URL",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "sqlite_home: checks the SQLite database under the home, so --database=postgres "
        "leaves the test on it",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On the PostgreSQL pass, keep only the tests whose homes get a PostgreSQL database.

    A test that uses no home database (pure units, tests of the SDK, tests that create their
    own PostgreSQL database) or keeps the SQLite default (``sqlite_home``) runs exactly as on
    the SQLite pass, so running it again would only cost time.
    """
    if config.getoption("--database") != "postgres":
        return
    same: list[pytest.Item] = []
    kept: list[pytest.Item] = []
    for item in items:
        on_postgres = "postgres_template" in getattr(item, "fixturenames", ())
        if on_postgres and item.get_closest_marker("sqlite_home") is None:
            kept.append(item)
        else:
            same.append(item)
    if same:
        config.hook.pytest_deselected(items=same)
        items[:] = kept


def pytest_report_header(config: pytest.Config) -> str:
    return f"taskstate test database: {config.getoption('--database')}"


class HomeDatabases:
    """The database of each home: the SQLite default, or PostgreSQL copies of a template.

    ``env(home)`` is what to add to the environment of settings or of a command over
    ``home``. Copies live until :meth:`close`.
    """

    def __init__(self, template: str | None) -> None:
        self._template = template
        self._urls: dict[Path, str] = {}
        self._stack = ExitStack()

    def env(self, home: Path, given: Mapping[str, str] | None = None) -> dict[str, str]:
        """``TASKSTATE__DATABASE__URL`` for ``home``; nothing on SQLite, or when ``given``
        (the test's own environment) sets the URL already."""
        if self._template is None or DATABASE_URL_VAR in (given or {}):
            return {}
        from taskstate.testing.postgres import temporary_database

        key = home.absolute()
        if key not in self._urls:
            database = temporary_database(template=self._template)
            self._urls[key] = self._stack.enter_context(database)
        return {DATABASE_URL_VAR: self._urls[key]}

    def close(self) -> None:
        self._stack.close()


@pytest.fixture(scope="session")
def postgres_template(pytestconfig: pytest.Config) -> Iterator[str | None]:
    """With ``--database=postgres``: a database migrated to head, to be copied; else None."""
    if pytestconfig.getoption("--database") != "postgres":
        yield None
        return
    from taskstate.testing.postgres import migrated_template

    with migrated_template() as url:
        yield url


def _home_databases(
    request: pytest.FixtureRequest, template: str | None
) -> Iterator[HomeDatabases]:
    keep_sqlite = request.node.get_closest_marker("sqlite_home") is not None
    databases = HomeDatabases(None if keep_sqlite else template)
    try:
        yield databases
    finally:
        databases.close()


@pytest.fixture
def home_databases(
    request: pytest.FixtureRequest, postgres_template: str | None
) -> Iterator[HomeDatabases]:
    """The databases of the homes of one test."""
    yield from _home_databases(request, postgres_template)


@pytest.fixture(scope="module")
def module_home_databases(
    request: pytest.FixtureRequest, postgres_template: str | None
) -> Iterator[HomeDatabases]:
    """The databases of homes shared by the tests of a module (``make_cli``)."""
    yield from _home_databases(request, postgres_template)


def settings_env(home: Path, **values: str) -> dict[str, str]:
    """An environment for ``load_settings``: ``home`` plus ``TASKSTATE__...`` values."""
    return {"TASKSTATE_HOME": str(home), "HOME": str(home), **values}


@pytest.fixture
def make_settings(tmp_path: Path, home_databases: HomeDatabases) -> Callable[..., Settings]:
    """Build settings over ``tmp_path/home``; keyword arguments are ``TASKSTATE__...`` values,
    e.g. ``make_settings(TASKSTATE__STATE_STORE__CLEAR_ON_SUCCESS="true")``."""
    home = tmp_path / "home"

    def make(**values: str) -> Settings:
        return load_settings(env=settings_env(home, **home_databases.env(home, values), **values))

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


class RunningServer:
    """A real uvicorn API server on a loopback port, and the credentials to use it."""

    def __init__(self, url: str, settings: Settings, api_key: str) -> None:
        self.url = url
        self.settings = settings
        self.api_key = api_key

    def public(self) -> Any:
        from taskstate.client.public import PublicClient

        return PublicClient(self.url, self.api_key)


@pytest.fixture
def api_server(settings: Settings) -> Iterator[RunningServer]:
    from taskstate.api.keys import client_api_key
    from taskstate.api.server import EmbeddedServer

    with EmbeddedServer(settings) as server:
        yield RunningServer(server.url, settings, client_api_key(settings))


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A moto S3 server on loopback for the whole session (see ``taskstate.testing.s3``)."""
    from taskstate.testing.s3 import moto_server

    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def s3_root(s3_endpoint: str) -> str:
    """A root in a new bucket of its own: ``s3://<bucket>/prefix``."""
    from taskstate.testing.s3 import create_bucket

    bucket = f"bucket-{uuid.uuid4().hex[:20]}"
    create_bucket(s3_endpoint, bucket)
    return f"s3://{bucket}/prefix"
