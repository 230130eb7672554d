"""One supervisor per running task instance: spawn the task process, relay its frames to the
execution API with its own token, stream its output, heartbeat, and report how it ended."""

from taskstate.supervisor.job import SupervisorJob
from taskstate.supervisor.process import supervise

__all__ = ["SupervisorJob", "supervise"]
