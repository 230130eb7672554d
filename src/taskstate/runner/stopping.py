"""The runner's tries as process groups, and stopping them all when the runner is interrupted.

Every supervisor the runner starts leads a process group of its own, which its task process
joins (see :mod:`taskstate.supervisor.lifeline`); once the supervisor has ended, whatever of the
group outlived it is ended too, before the runner can start another try of the same task
instance. :class:`TryGroups` starts the supervisors and keeps the groups alive now.
When the runner is interrupted (SIGINT or SIGTERM of ``dags test``), :meth:`TryGroups.stop`
sends SIGTERM to every supervisor (the leader of its group), so that it stops its task and
reports its try failed ("interrupted"), and SIGKILL to every group still there after the
grace; a second interrupt kills at once. A supervisor started while stopping gets the same
SIGTERM as soon as it is added.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable

import msgspec

from taskstate.client.execution import ExecutionClient
from taskstate.errors import TaskStateError
from taskstate.hardening import without_secrets
from taskstate.supervisor.job import SupervisorJob
from taskstate.supervisor.lifeline import die_with_parent, stop_group
from taskstate.supervisor.process import INTERRUPTED

__all__ = ["TryGroups", "fail_try"]


class TryGroups:
    """The process groups of the tries running now."""

    def __init__(self, *, grace: float) -> None:
        self.grace = grace
        self.stopping = threading.Event()
        self.reason: str | None = None
        """The name of the signal that stopped the run; None while it runs."""
        self._groups: set[int] = set()
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None

    def supervise(self, job: SupervisorJob, line: Callable[[str], None]) -> int:
        """Run the try's supervisor to its end, each line of its output to ``line``; then end
        whatever of its group outlived it. Its exit code."""
        with subprocess.Popen(
            [sys.executable, "-m", "taskstate.supervisor"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            process_group=0,
            env=without_secrets(os.environ),  # the supervisor needs no key: its job has a token
            # Its runner gone, a supervisor stops its task and reports the try.
            preexec_fn=die_with_parent(signal.SIGTERM),
        ) as proc:
            self.add(proc.pid)
            try:
                assert proc.stdin is not None and proc.stdout is not None
                with contextlib.suppress(BrokenPipeError):
                    proc.stdin.write(msgspec.json.encode(job))
                    proc.stdin.close()
                for raw in proc.stdout:
                    line(raw.decode(errors="replace").rstrip("\n"))
            finally:
                proc.wait()
                left = stop_group(proc.pid, grace=job.kill_grace_seconds)
                self.discard(proc.pid)
        if left:
            line(f"[runner] ended {len(left)} process(es) left by the try")
        return proc.returncode

    def add(self, pgid: int) -> None:
        with self._lock:
            self._groups.add(pgid)
        if self.stopping.is_set():
            _terminate(pgid)

    def discard(self, pgid: int) -> None:
        with self._lock:
            self._groups.discard(pgid)

    def _all(self) -> list[int]:
        with self._lock:
            return list(self._groups)

    def stop(self, reason: str) -> None:
        """Stop every try: SIGTERM now, SIGKILL after the grace (at once if already stopping).

        Safe in a signal handler: it only signals processes and starts a timer thread.
        """
        if self.stopping.is_set():
            self.kill()
            return
        self.reason = reason
        self.stopping.set()
        for pgid in self._all():
            _terminate(pgid)
        self._timer = threading.Timer(self.grace, self.kill)
        self._timer.daemon = True
        self._timer.start()

    def kill(self) -> None:
        for pgid in self._all():
            _signal(pgid, signal.SIGKILL)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()


def _signal(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _terminate(pgid: int) -> None:
    """SIGTERM to the supervisor alone: it stops its task itself (a second SIGTERM from the
    group would interrupt the task's own handling of the first)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pgid, signal.SIGTERM)


def fail_try(
    client: ExecutionClient,
    say: Callable[[str], None],
    ti_id: str,
    state: str,
    code: int,
    *,
    interrupted: bool,
) -> str:
    """End as failed a try its supervisor left queued or running (it crashed, or was killed);
    the state the task instance is in then (``state`` if it cannot be reported).

    The try's own token (``client``'s) still grants its task instance, so the runner ends the
    try; it then retries or fails like any other, and the run can finish. A try of an
    interrupted run ends "interrupted", without a retry.
    """
    reason = f"the supervisor ended with code {code} without reporting the try"
    if interrupted:
        reason = INTERRUPTED
    say(f"[runner] {reason}; marking it failed")
    try:
        return client.finish(ti_id, "failed", reason, retry=not interrupted)
    except TaskStateError as exc:
        say(f"[runner] cannot mark the try failed: {exc}")
        return state
