"""The Redis backend refuses a server without persistence unless ``allow_volatile``: checked
against Redis servers this module starts itself (``redis-server``), each with its own
persistence settings, and proven by killing and restarting them."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from taskstate.backends.redis import RedisStateBackend
from taskstate.backends.registry import create_backend
from taskstate.errors import BackendError, ConfigError, VolatileBackendError
from taskstate.state import AssetScope, StoredValue

pytestmark = pytest.mark.redis

REDIS_SERVER = shutil.which("redis-server")
VALUES = 200


class RedisProcess:
    """A ``redis-server`` on a free loopback port, over a data folder that outlives restarts."""

    def __init__(self, folder: Path, options: list[str]) -> None:
        self.folder = folder
        self.options = options
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        assert REDIS_SERVER is not None
        self.process = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.folder),
                "--daemonize",
                "no",
                *self.options,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert self.process.stdout is not None
        seen = []
        for line in self.process.stdout:  # the server says when it accepts connections
            seen.append(line)
            if "Ready to accept connections" in line:
                return
        raise AssertionError("redis-server did not start:\n" + "".join(seen))

    def kill(self) -> None:
        """SIGKILL: no shutdown save, no AOF rewrite; what is on disk is what survives."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()
        self.process = None


@pytest.fixture
def redis_process(tmp_path: Path) -> Iterator[Callable[..., RedisProcess]]:
    if REDIS_SERVER is None:
        if os.environ.get("CI") == "true":
            pytest.fail("redis-server is not installed")
        pytest.skip("redis-server is not installed")
    started: list[RedisProcess] = []

    def start(*options: str) -> RedisProcess:
        folder = tmp_path / f"redis{len(started)}"
        folder.mkdir()
        server = RedisProcess(folder, list(options))
        server.start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.kill()


VOLATILE = ("--appendonly", "no", "--save", "")


def _fill(backend: RedisStateBackend) -> None:
    for i in range(VALUES):
        backend.set(AssetScope("a"), f"k{i}", StoredValue(str(i)))


def _kept(backend: RedisStateBackend) -> int:
    return sum(backend.get(AssetScope("a"), f"k{i}") is not None for i in range(VALUES))


def test_a_volatile_redis_is_refused(redis_process: Callable[..., RedisProcess]) -> None:
    server = redis_process(*VOLATILE)
    with pytest.raises(VolatileBackendError) as caught:
        RedisStateBackend(server.url, prefix="p")
    message = caught.value.message
    assert "keeps its data only in memory" in message
    assert "appendonly yes" in message and "allow_volatile = true" in message
    assert isinstance(caught.value, ConfigError)
    assert caught.value.detail == {"url": server.url, "appendonly": False, "save": ""}
    with redis.Redis.from_url(server.url) as client:
        assert client.dbsize() == 0  # nothing written


def test_the_server_refuses_to_start_on_a_volatile_redis(
    redis_process: Callable[..., RedisProcess],
) -> None:
    server = redis_process(*VOLATILE)
    with pytest.raises(VolatileBackendError):
        create_backend("redis", {"url": server.url, "prefix": "p"}, setting="[state_store] backend")


def test_allow_volatile_accepts_it_and_a_restart_loses_everything(
    redis_process: Callable[..., RedisProcess],
) -> None:
    """What the refusal prevents: 200 acknowledged values, 0 after a restart."""
    server = redis_process(*VOLATILE)
    backend = create_backend(
        "redis",
        {"url": server.url, "prefix": "p", "allow_volatile": True},
        setting="[state_store] backend",
    )
    assert isinstance(backend, RedisStateBackend)
    assert backend.persistence == "not checked (allow_volatile)"
    try:
        _fill(backend)
        assert _kept(backend) == VALUES
        server.kill()
        server.start()
        assert _kept(backend) == 0
    finally:
        backend.close()


@pytest.mark.parametrize("fsync", ["always", "everysec"])
def test_an_aof_redis_is_accepted_and_keeps_every_value_through_a_kill(
    redis_process: Callable[..., RedisProcess], fsync: str
) -> None:
    server = redis_process("--appendonly", "yes", "--appendfsync", fsync, "--save", "")
    backend = RedisStateBackend(server.url, prefix="p")
    try:
        assert backend.persistence == f"AOF (appendfsync {fsync})"
        _fill(backend)
        server.kill()  # a crash of the server process; the AOF was written before each reply
        server.start()
        assert _kept(backend) == VALUES
    finally:
        backend.close()


def test_rdb_snapshots_count_as_persistence(redis_process: Callable[..., RedisProcess]) -> None:
    server = redis_process("--appendonly", "no", "--save", "3600 1")
    backend = RedisStateBackend(server.url, prefix="p")
    try:
        assert backend.persistence == "RDB snapshots (save 3600 1)"
    finally:
        backend.close()


def test_without_config_aof_is_found_through_info(
    redis_process: Callable[..., RedisProcess],
) -> None:
    server = redis_process("--appendonly", "yes", "--rename-command", "CONFIG", '""')
    backend = RedisStateBackend(server.url, prefix="p")
    try:
        assert backend.persistence == "AOF"
    finally:
        backend.close()


def test_without_config_and_without_aof_it_is_refused(
    redis_process: Callable[..., RedisProcess],
) -> None:
    server = redis_process("--appendonly", "no", "--rename-command", "CONFIG", '""')
    with pytest.raises(VolatileBackendError, match="cannot tell whether Redis"):
        RedisStateBackend(server.url, prefix="p")


def test_an_unreachable_redis_is_a_backend_error_at_start() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(BackendError, match="cannot check the persistence of Redis"):
        RedisStateBackend(f"redis://127.0.0.1:{port}/0", prefix="p")
