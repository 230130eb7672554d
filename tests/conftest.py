"""Fixtures every layer's tests share: settings in a private home, a real API server."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from taskstate.config import Settings, load_settings


def settings_env(home: Path, **values: str) -> dict[str, str]:
    """An environment for ``load_settings``: ``home`` plus ``TASKSTATE__...`` values."""
    return {"TASKSTATE_HOME": str(home), "HOME": str(home), **values}


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    """Build settings over ``tmp_path/home``; keyword arguments are ``TASKSTATE__...`` values,
    e.g. ``make_settings(TASKSTATE__STATE_STORE__CLEAR_ON_SUCCESS="true")``."""

    def make(**values: str) -> Settings:
        return load_settings(env=settings_env(tmp_path / "home", **values))

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
