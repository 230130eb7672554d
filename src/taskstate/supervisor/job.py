"""What a runner hands a supervisor (on its standard input, never on the command line)."""

from __future__ import annotations

import msgspec

from taskstate.contracts.types import WorkerBackendSpec

__all__ = ["SupervisorJob"]


class SupervisorJob(msgspec.Struct, frozen=True):
    """One try of one task instance, as the runner asks a supervisor to run it."""

    api_url: str
    token: str
    ti_id: str
    dag_file: str
    heartbeat_interval: float = 10.0
    worker_backend: WorkerBackendSpec | None = None
    log_level: str = "INFO"
    """``[logging] level``, for the task process's loggers."""
    log_folder: str | None = None
    """Where the try's log file goes (``Settings.logs_folder``); None: no file."""
    execution_timeout: float | None = None
    """Seconds the task may run once called (its ``execution_timeout``); None: no limit."""
    kill_grace_seconds: float = 5.0
    """Seconds between SIGTERM and SIGKILL when a try that ran over is stopped."""
    run_as_user: str | None = None
    """``[workers] run_as_user``: the user the task process runs as; None: the supervisor's."""
    client_retry_seconds: float = 60.0
    """``[api] client_retry_seconds``: how long a call that failed transiently is retried."""
    encryption_keys: list[tuple[str, bytes]] = []
    """``[workers] encryption_keys`` as ``(id, key)``, the one that encrypts first; handed to
    the task process in its start-up frame, never through its environment or the API server."""
