"""The supervisor's loop around one task process.

One thread waits on everything at once with a selector: request frames on the socket, the
task's output (stdout and stderr share one pipe, so their lines keep their order), and the
task's exit (a pidfd), with a timeout for the next heartbeat or the try's deadline. So a task
that dies, of an exception or a signal, is noticed at once; the supervisor never waits on a
dead child, and a grandchild holding the output pipe open only delays the report by a short
grace period.

A try that runs over its ``execution_timeout`` gets SIGTERM, then SIGKILL if it is still there
after ``kill_grace_seconds``; it fails with the reason "timed out after N s" (its retries
apply, as in Airflow). The time counts from the task process's ``TaskStarting`` frame, sent
when the task is called: as in Airflow, loading the DAG file is not part of the task's time, so
a busy machine's slow start does not time a task out.

Every line the supervisor shows is also written to the try's log file
(:mod:`taskstate.supervisor.logfile`).
"""

from __future__ import annotations

import contextlib
import enum
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, TextIO

from taskstate.client._retry import RetryPolicy
from taskstate.client.execution import ExecutionClient
from taskstate.contracts.frames import (
    EXIT_FAILED_NO_RETRY,
    EXIT_SETUP_FAILED,
    EXIT_SKIPPED,
    EXIT_SUCCESS,
    EXIT_TASK_FAILED,
    Frame,
    FrameSocket,
    StartTask,
    TaskStarting,
)
from taskstate.contracts.types import TaskInstanceInfo
from taskstate.errors import RuntimeFailure, StaleTryError, TaskStateError
from taskstate.hardening import TaskUser, task_user, without_secrets
from taskstate.supervisor.handlers import HANDLERS
from taskstate.supervisor.job import SupervisorJob
from taskstate.supervisor.lifeline import die_with_parent
from taskstate.supervisor.logfile import open_try_log, try_log_path

__all__ = ["INTERRUPTED", "Outcome", "supervise"]

INTERRUPTED = "interrupted"
"""The reason of a try stopped by SIGTERM or SIGINT (its runner was interrupted)."""

# How long output pipes may stay open after the task process exited (a grandchild may hold them).
PIPE_GRACE_SECONDS = 1.0


class Outcome(enum.IntEnum):
    """How the supervisor ends; its process exit code."""

    SUCCESS = 0  # the task instance succeeded
    FAILED = 1  # the task instance failed (it may be up for retry)
    SKIPPED = 2  # the task skipped itself: the task instance is skipped
    ERROR = 3  # the supervisor could not do its job (API unreachable, bad job)


def supervise(
    job: SupervisorJob, *, out: TextIO | None = None, handle_signals: bool = False
) -> Outcome:
    """Run one try of the task instance ``job.ti_id`` and report it to the API server.

    With ``handle_signals`` (the supervisor's own process), SIGTERM and SIGINT stop the task
    (SIGTERM, then SIGKILL after ``job.kill_grace_seconds``) and end the try as failed with
    the reason "interrupted", without a retry.
    """
    retry = RetryPolicy(job.client_retry_seconds) if job.client_retry_seconds > 0 else None
    client = ExecutionClient(job.api_url, job.token, retry=retry)
    supervision = _Supervision(job, client, out or sys.stdout)
    restore = _handle_signals(supervision) if handle_signals else None
    try:
        return supervision.run()
    except (TaskStateError, OSError) as exc:  # OSError: e.g. run_as_user cannot run Python
        supervision.say(f"supervisor error: {type(exc).__name__}: {exc}")
        return Outcome.ERROR
    finally:
        if restore is not None:
            restore()
        supervision.close_log()
        client.close()


def _handle_signals(supervision: _Supervision) -> Callable[[], None]:
    """Route SIGTERM and SIGINT to ``supervision``; each wakes its loop through a socket."""
    wake_r, wake_w = socket.socketpair()
    wake_r.setblocking(False)
    wake_w.setblocking(False)
    supervision.wakeup = wake_r

    def interrupt(signum: int, frame: object) -> None:
        supervision.interrupted = signal.Signals(signum).name

    previous = {sig: signal.signal(sig, interrupt) for sig in (signal.SIGTERM, signal.SIGINT)}
    old_fd = signal.set_wakeup_fd(wake_w.fileno(), warn_on_full_buffer=False)

    def restore() -> None:
        signal.set_wakeup_fd(old_fd)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        wake_r.close()
        wake_w.close()

    return restore


def _child_env(user: TaskUser | None) -> dict[str, str]:
    """The task process's environment: the supervisor's, without taskstate's secrets."""
    env = without_secrets(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    return env if user is None else user.environment(env)


def _describe_exit(code: int) -> str:
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"the task process was killed by {name}"
    if code == EXIT_TASK_FAILED:
        return "the task raised an exception"
    if code == EXIT_SETUP_FAILED:
        return "the task could not be set up"
    if code == EXIT_FAILED_NO_RETRY:
        return "the task failed and asked for no retry"
    return f"the task process exited with code {code}"


_OUTCOMES = {"success": Outcome.SUCCESS, "skipped": Outcome.SKIPPED}


class _Supervision:
    def __init__(self, job: SupervisorJob, client: ExecutionClient, out: TextIO) -> None:
        self.job = job
        self.client = client
        self.out = out
        self.out_open = True
        self.log: TextIO | None = None
        self.partial = b""
        # The state the server reported when it no longer considered this try running.
        self.stopped_by_server: str | None = None
        # When the try must end (execution_timeout), once the task process said the task starts.
        self.deadline: float | None = None
        # Why the supervisor stopped the try when it ran over its execution_timeout.
        self.timed_out: str | None = None
        # The signal that asked the supervisor to stop (see supervise's handle_signals), and
        # the socket that signals wake its loop with.
        self.interrupted: str | None = None
        self.wakeup: socket.socket | None = None

    def say(self, line: str) -> None:
        """Show a line of the supervisor's own, and log it."""
        self._emit(f"[supervisor] {line}\n")

    def _emit(self, text: str) -> None:
        """Show ``text`` (whole lines) in the terminal and write it to the try's log file."""
        if self.out_open:
            try:
                self.out.write(text)
                self.out.flush()
            except OSError:
                # Whoever read it (the runner) is gone: the try goes on, and is reported.
                self.out_open = False
        if self.log is None:
            return
        try:
            self.log.write(text)
            self.log.flush()
        except OSError as exc:
            self.close_log()
            self.say(f"cannot write the try's log file any more: {exc}")

    def _open_log(self, ti: TaskInstanceInfo) -> None:
        if self.job.log_folder is None:
            return
        path = try_log_path(
            Path(self.job.log_folder),
            ti.dag_id,
            ti.run_id,
            ti.task_id,
            ti.map_index,
            ti.try_number,
        )
        try:
            self.log = open_try_log(path)
        except OSError as exc:
            self.say(f"cannot write the try's log file {path}: {exc}")

    def close_log(self) -> None:
        log, self.log = self.log, None
        if log is not None:
            # What could not be written was reported when it was written.
            with contextlib.suppress(OSError):
                log.close()

    def run(self) -> Outcome:
        job = self.job
        user = task_user(job.run_as_user)  # refused before the try starts
        started = self.client.start(job.ti_id, pid=os.getpid(), hostname=socket.gethostname())
        ti, run = started.ti, started.dag_run
        self._open_log(ti)
        self.say(f"try {ti.try_number} of {ti.task_id} started")
        parent, child = socket.socketpair()
        proc = subprocess.Popen(
            [sys.executable, "-m", "taskstate.runtime", str(child.fileno())],
            pass_fds=[child.fileno()],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=_child_env(user),
            **(user.popen_options() if user is not None else {}),
            # The task dies with the supervisor, even of SIGKILL (see supervisor.lifeline).
            preexec_fn=die_with_parent(signal.SIGKILL),
        )
        child.close()
        frames = FrameSocket(parent)
        try:
            frames.send(
                Frame(
                    0,
                    StartTask(
                        ti=ti,
                        dag_file=job.dag_file,
                        assets=started.assets,
                        max_value_bytes=started.max_value_bytes,
                        dag_run=run.with_conf_bytes(),
                        worker_backend=job.worker_backend,
                        log_level=job.log_level,
                        encryption_keys=job.encryption_keys,
                    ),
                )
            )
            code = self._relay(proc, frames)
        finally:
            frames.close()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()
        if self.stopped_by_server is not None:
            self.say(f"try {ti.try_number} stopped: the task instance is {self.stopped_by_server}")
            return Outcome.FAILED
        if self.interrupted is not None:
            final = self.client.finish(job.ti_id, "failed", INTERRUPTED, retry=False)
            self.say(f"try {ti.try_number} failed: {INTERRUPTED} ({self.interrupted})")
        elif code == EXIT_SUCCESS and self.timed_out is None:
            final = self.client.finish(job.ti_id, "success")
            self.say(f"try {ti.try_number} succeeded")
        elif code == EXIT_SKIPPED and self.timed_out is None:
            final = self.client.finish(job.ti_id, "skipped", "the task skipped itself")
            self.say(f"try {ti.try_number} skipped: the task skipped itself")
        else:
            reason = self.timed_out or _describe_exit(code)
            retry = self.timed_out is not None or code != EXIT_FAILED_NO_RETRY
            final = self.client.finish(job.ti_id, "failed", reason, retry=retry)
            self.say(f"try {ti.try_number} failed: {reason}; task instance is {final}")
        return _OUTCOMES.get(final, Outcome.FAILED)

    def _relay(self, proc: subprocess.Popen[bytes], frames: FrameSocket) -> int:
        """Serve the task until it exits; return its exit code."""
        assert proc.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(frames.sock, selectors.EVENT_READ, "frames")
        selector.register(proc.stdout, selectors.EVENT_READ, "output")
        if self.wakeup is not None:
            selector.register(self.wakeup, selectors.EVENT_READ, "wakeup")
        pidfd = _open_pidfd(proc.pid)
        if pidfd is not None:
            selector.register(pidfd, selectors.EVENT_READ, "exit")
        next_heartbeat = time.monotonic() + self.job.heartbeat_interval
        exited_at: float | None = None
        try:
            while True:
                if exited_at is None and proc.poll() is not None:
                    exited_at = time.monotonic()
                outputs_open = any(k.data == "output" for k in selector.get_map().values())
                if exited_at is not None and (
                    not outputs_open or time.monotonic() - exited_at > PIPE_GRACE_SECONDS
                ):
                    break
                now = time.monotonic()
                if self.interrupted is not None and self.timed_out is None and exited_at is None:
                    self.timed_out = INTERRUPTED
                    self.say(f"{self.interrupted}: stopping the task process (SIGTERM)")
                    proc.terminate()
                    self.deadline = now + self.job.kill_grace_seconds
                if now >= next_heartbeat:
                    self._heartbeat(proc)
                    next_heartbeat = now + self.job.heartbeat_interval
                wake = next_heartbeat
                if self.deadline is not None and exited_at is None:
                    self.deadline = self._enforce_deadline(proc, self.deadline, now)
                    wake = min(wake, self.deadline)
                timeout = max(0.0, wake - now)
                if exited_at is not None:
                    timeout = min(timeout, 0.05)
                elif pidfd is None:
                    timeout = min(timeout, 0.1)
                for key, _ in selector.select(timeout):
                    if key.data == "frames":
                        if not self._serve_frame(frames):
                            selector.unregister(frames.sock)
                    elif key.data == "wakeup":
                        with contextlib.suppress(OSError):
                            self.wakeup.recv(512)  # type: ignore[union-attr]
                    elif key.data == "output":
                        if not self._forward_output(key.fileobj):  # type: ignore[arg-type]
                            selector.unregister(key.fileobj)
                    else:
                        selector.unregister(key.fileobj)
        finally:
            self._flush_partial()
            selector.close()
            if pidfd is not None:
                os.close(pidfd)
        return proc.wait()

    def _enforce_deadline(
        self, proc: subprocess.Popen[bytes], deadline: float, now: float
    ) -> float:
        """Stop a try that ran over its execution_timeout; the next moment to act."""
        if now < deadline or proc.poll() is not None:
            return deadline
        if self.timed_out is None:
            self.timed_out = f"timed out after {self.job.execution_timeout:g} s"
            self.say(f"{self.timed_out}; stopping the task process (SIGTERM)")
            proc.terminate()
            return now + self.job.kill_grace_seconds
        self.say(
            f"the task process is still running {self.job.kill_grace_seconds:g} s after "
            "SIGTERM; killing it (SIGKILL)"
        )
        proc.kill()
        return float("inf")

    def _serve_frame(self, frames: FrameSocket) -> bool:
        try:
            frame = frames.receive()
        except TaskStateError as exc:
            if self.timed_out is None and self.stopped_by_server is None:
                self.say(f"task socket: {exc}")  # else: the supervisor stopped the task itself
            return False
        if frame is None:
            return False
        request = frame.body
        if isinstance(request, TaskStarting):
            # The one request about the supervision itself rather than the API server.
            limit = self.job.execution_timeout
            if limit is not None:
                self.deadline = time.monotonic() + limit
        handler = HANDLERS.get(type(request))
        try:
            if handler is None:
                raise RuntimeFailure(f"the supervisor has no handler for {type(request).__name__}")
            reply: Any = handler(self.client, self.job.ti_id, request)
            answer = Frame(frame.id, reply)
        except TaskStateError as exc:
            answer = Frame(frame.id, error=exc.to_body())
        except Exception as exc:  # a bug here must reach the task as an error, not hang it
            answer = Frame(frame.id, error=RuntimeFailure(f"supervisor: {exc!r}").to_body())
        try:
            frames.send(answer)
        except TaskStateError:
            return False
        return True

    def _forward_output(self, pipe: IO[bytes]) -> bool:
        data = os.read(pipe.fileno(), 65536)
        if not data:
            self._flush_partial()
            return False
        *lines, self.partial = (self.partial + data).split(b"\n")
        if lines:
            self._emit("".join(line.decode(errors="replace") + "\n" for line in lines))
        return True

    def _flush_partial(self) -> None:
        rest, self.partial = self.partial, b""
        if rest:
            self._emit(rest.decode(errors="replace") + "\n")

    def _heartbeat(self, proc: subprocess.Popen[bytes]) -> None:
        try:
            beat = self.client.heartbeat(self.job.ti_id)
        except StaleTryError as exc:
            # The try has ended or been overtaken on the server: nothing it does counts now.
            if proc.poll() is None:
                state = str(exc.detail.get("state", "gone"))
                self.say(f"task instance is {state} on the server; stopping the task")
                self.say(str(exc))
                self.stopped_by_server = state
                proc.kill()
            return
        except TaskStateError as exc:
            self.say(f"heartbeat failed: {exc}")
            return
        self.client.set_token(beat.token)
        if beat.state != "running" and proc.poll() is None:
            self.say(f"task instance is {beat.state} on the server; stopping the task")
            self.stopped_by_server = beat.state
            proc.kill()


def _open_pidfd(pid: int) -> int | None:
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None
