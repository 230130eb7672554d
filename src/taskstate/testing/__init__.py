"""Test helpers for taskstate and for authors of state backends.

* :class:`~taskstate.testing.backend_contract.ServerBackendContract`: the conformance suite
  every server-side state backend runs, bound to a backend by subclassing it in a test module.
* :mod:`taskstate.testing.postgres`: a throwaway PostgreSQL database for a test session.
* :mod:`taskstate.testing.airflow`: Apache Airflow 3.3.2 in a cached virtualenv of its own, the
  import-line converter, and runs of a DAG file under ``airflow dags test``, read back.

These import pytest, so only tests import them; nothing in taskstate imports this package.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from taskstate.testing.backend_contract import ServerBackendContract
    from taskstate.testing.worker_contract import WorkerBackendContract

__all__ = ["ServerBackendContract", "WorkerBackendContract"]


def __getattr__(name: str) -> Any:
    if name == "ServerBackendContract":
        module = importlib.import_module("taskstate.testing.backend_contract")
        return module.ServerBackendContract
    if name == "WorkerBackendContract":
        return importlib.import_module("taskstate.testing.worker_contract").WorkerBackendContract
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
