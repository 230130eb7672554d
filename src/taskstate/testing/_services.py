"""The one rule for tests that need a server this machine may not run."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

__all__ = ["server_unavailable", "skip_or_fail"]


def server_unavailable(service: str, masked_url: str, exc: Exception, env_var: str) -> NoReturn:
    """Skip the calling test, saying how to start the server it needs (fail under CI)."""
    skip_or_fail(
        f"{service} at {masked_url} does not answer ({' '.join(str(exc).split())}); "
        f"start {service} or set {env_var}"
    )


def skip_or_fail(message: str) -> NoReturn:
    """Skip the calling test with ``message``, saying how to enable it; under ``CI=true``, where
    every test must run, fail it instead."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} (CI=true: not skipping)", pytrace=False)
    pytest.skip(message)
