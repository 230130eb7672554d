"""State backend implementations, and the registry that finds them by name or class path.

The task process imports :mod:`taskstate.backends.registry` to load its worker backend, which
runs this file first: so it imports nothing heavy. Implementations are exported lazily and
imported on first access (``taskstate.backends.MetastoreStateBackend`` pulls in SQLAlchemy).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from taskstate.backends.registry import KNOWN_BACKENDS, create_backend, load_backend_class

if TYPE_CHECKING:
    from taskstate.backends.metastore import MetastoreStateBackend

__all__ = ["KNOWN_BACKENDS", "MetastoreStateBackend", "create_backend", "load_backend_class"]

_LAZY = {"MetastoreStateBackend": "taskstate.backends.metastore"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
