"""HTTP clients of the API server: :class:`ExecutionClient` (supervisors) and
:class:`PublicClient` (the runner and the CLI)."""

from taskstate.client.execution import ExecutionClient
from taskstate.client.public import PublicClient

__all__ = ["ExecutionClient", "PublicClient"]
