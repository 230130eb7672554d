"""What the server-backend contract's test classes share."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import pytest

from taskstate.state.backend import BaseStateBackend
from taskstate.state.types import StateEntry, StateScope

__all__ = ["REF_BACKEND", "entries", "supported"]

T = TypeVar("T")

REF_BACKEND = "example_worker_backend.ExampleBackend"
"""The class path the contract's references claim to be written by."""


def supported(call: Callable[[], T], what: str, backend: BaseStateBackend) -> T:
    """``call()``, or skip the test if the backend keeps the interface's default for it."""
    try:
        return call()
    except NotImplementedError:
        pytest.skip(f"{type(backend).__name__} cannot {what}")


def entries(backend: BaseStateBackend, scope: StateScope) -> list[StateEntry]:
    """``backend.list_entries(scope)``, or skip the test if it cannot list."""
    return supported(lambda: backend.list_entries(scope), "list its keys", backend)
