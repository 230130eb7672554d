"""What DAG authors import: ``DAG``, ``task``, ``Asset``."""

from taskstate.sdk.asset import Asset
from taskstate.sdk.dag import DAG
from taskstate.sdk.task import Task, task

__all__ = ["DAG", "Asset", "Task", "task"]
