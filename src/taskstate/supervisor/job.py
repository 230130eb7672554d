"""What a runner hands a supervisor (on its standard input, never on the command line)."""

from __future__ import annotations

import msgspec

from taskstate.runtime.protocol import WorkerBackendSpec

__all__ = ["SupervisorJob"]


class SupervisorJob(msgspec.Struct, frozen=True):
    api_url: str
    token: str
    ti_id: str
    dag_file: str
    heartbeat_interval: float = 10.0
    worker_backend: WorkerBackendSpec | None = None
