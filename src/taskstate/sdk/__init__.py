"""What DAG authors import: ``DAG``, ``task``, ``Asset``, ``Param``, and ``NEVER_EXPIRE`` for
``set``.

Also the names a worker backend written for Apache Airflow 3.3.2 imports (``BaseStoreBackend``,
``TaskScope``, ``AssetScope``, ``StoreScope``), so that such a file runs with only its import
line changed; they are :mod:`taskstate.state`'s own.
"""

from taskstate.sdk.asset import Asset
from taskstate.sdk.dag import DAG
from taskstate.sdk.params import Param, ParamsDict
from taskstate.sdk.task import Task, task
from taskstate.state.retention import NEVER_EXPIRE
from taskstate.state.store_backend import BaseStoreBackend, StoreScope
from taskstate.state.types import AssetScope, TaskScope

__all__ = [
    "DAG",
    "NEVER_EXPIRE",
    "Asset",
    "AssetScope",
    "BaseStoreBackend",
    "Param",
    "ParamsDict",
    "StoreScope",
    "Task",
    "TaskScope",
    "task",
]
