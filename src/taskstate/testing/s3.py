"""A local S3-compatible server for tests: moto's server mode, on loopback.

``moto_server()`` runs moto's ``ThreadedMotoServer`` on a free loopback port in a daemon thread
of the calling process (so it cannot outlive it), yields its endpoint URL and stops it.
``storage_options(endpoint)`` are the kwargs that point s3fs at it
(``ObjectStorageStateBackend(root="s3://bucket/prefix", **storage_options(endpoint))``).
moto comes with the ``test`` extra; without it the tests that need S3 are skipped with a message
saying how to install it, except under ``CI=true``, where they fail.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from taskstate.testing._services import skip_or_fail

__all__ = ["REGION", "create_bucket", "moto_server", "storage_options"]

REGION = "eu-west-1"
"""Not us-east-1: s3fs's bucket creation sends a location constraint that region refuses."""


@contextmanager
def moto_server() -> Iterator[str]:
    """Run a moto S3 server on a free loopback port; yield its endpoint URL."""
    for module in ("moto", "s3fs", "flask", "flask_cors"):
        if importlib.util.find_spec(module) is None:
            skip_or_fail(
                f"the S3 tests need the {module!r} package; install the test extra: "
                "pip install -e '.[test]'"
            )
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()  # returns once the server listens
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


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
