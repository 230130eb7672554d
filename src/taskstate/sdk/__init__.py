"""What DAG authors import: ``DAG``, ``task``, ``Asset``, ``Param``, and ``NEVER_EXPIRE`` for
``set``."""

from taskstate.sdk.asset import Asset
from taskstate.sdk.dag import DAG
from taskstate.sdk.params import Param, ParamsDict
from taskstate.sdk.task import Task, task
from taskstate.state.retention import NEVER_EXPIRE

__all__ = ["DAG", "NEVER_EXPIRE", "Asset", "Param", "ParamsDict", "Task", "task"]
