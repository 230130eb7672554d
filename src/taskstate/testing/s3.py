"""A local S3-compatible server for tests: moto's server mode, on loopback.

``moto_server()`` starts ``moto_server`` on a free port, waits until it answers, yields its
endpoint URL and stops it. ``storage_options(endpoint)`` are the kwargs that point s3fs at it
(``ObjectStorageStateBackend(root="s3://bucket/prefix", **storage_options(endpoint))``).
moto comes with the ``test`` extra; without it the tests that need S3 are skipped with a message
saying how to install it, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest

__all__ = ["REGION", "create_bucket", "moto_server", "storage_options"]

REGION = "eu-west-1"
"""Not us-east-1: s3fs's bucket creation sends a location constraint that region refuses."""

START_TIMEOUT_SECONDS = 30.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# Run first in the child on Linux: the kernel sends the server SIGTERM when the test process
# dies, however it dies (SIGKILL included), so the server never outlives it. The process then
# becomes the server itself (same pid) by exec.
_DIE_WITH_PARENT = """
import ctypes, os, signal, sys
if ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM) != 0:  # PR_SET_PDEATHSIG
    raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
if os.getppid() != int(sys.argv[1]):
    sys.exit("the test process that started moto_server is gone")
os.execv(sys.argv[2], sys.argv[2:])
"""


def _command(port: int) -> list[str]:
    script = Path(sys.executable).with_name("moto_server")
    args = ["-H", "127.0.0.1", "-p", str(port)]
    command = (
        [str(script), *args] if script.exists() else [sys.executable, "-m", "moto.server", *args]
    )
    if platform.system() == "Linux":
        return [sys.executable, "-c", _DIE_WITH_PARENT, str(os.getpid()), *command]
    return command


def _unavailable(reason: str) -> None:
    # The rule of taskstate.testing._services (skip, but fail under CI=true), for a package
    # that is missing rather than a server that does not answer.
    message = f"{reason}; install the test extra: pip install -e '.[test]'"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} (CI=true: not skipping)", pytrace=False)
    pytest.skip(message)


# The server is on loopback: a proxy from the environment must not stand in for it.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _answers(endpoint: str) -> bool:
    try:
        with _DIRECT.open(f"{endpoint}/moto-api/", timeout=1.0):
            return True
    except urllib.error.HTTPError:
        return True  # it answered, if not with 200
    except OSError:
        return False


@contextmanager
def moto_server() -> Iterator[str]:
    """Run a moto S3 server on a free loopback port; yield its endpoint URL.

    The server is stopped on leaving, and on Linux also when the calling process dies without
    leaving (the kernel ends it with the thread that started it: start it from the main
    thread, or one that outlives its use).
    """
    for module in ("moto", "s3fs", "flask", "flask_cors"):
        if importlib.util.find_spec(module) is None:
            _unavailable(f"the S3 tests need the {module!r} package")
    port = _free_port()
    endpoint = f"http://127.0.0.1:{port}"
    # The server logs every request: into a file, since a pipe nobody reads would fill up and
    # block it mid-request.
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            _command(port), stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + START_TIMEOUT_SECONDS
            while not _answers(endpoint):
                if process.poll() is not None:
                    log.seek(0)
                    output = log.read().decode(errors="replace")
                    raise RuntimeError(f"moto_server exited with {process.returncode}: {output}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"moto_server did not answer on {endpoint}")
                # Between two requests, wait on the process itself: its exit ends the wait.
                with suppress(subprocess.TimeoutExpired):
                    process.wait(timeout=0.05)
            yield endpoint
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def storage_options(endpoint: str) -> dict[str, Any]:
    """The ``ObjectStorageStateBackend`` kwargs (s3fs options) that reach the server."""
    return {
        "key": "testing",
        "secret": "testing",
        "client_kwargs": {"endpoint_url": endpoint, "region_name": REGION},
    }


def create_bucket(endpoint: str, bucket: str) -> None:
    """Create ``bucket`` on the server."""
    import s3fs  # type: ignore[import-untyped]

    fs = s3fs.S3FileSystem(skip_instance_cache=True, **storage_options(endpoint))
    fs.mkdir(bucket)
