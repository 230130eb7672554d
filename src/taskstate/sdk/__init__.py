"""What DAG authors import: Airflow 3's DAG-authoring names, and ``NEVER_EXPIRE`` for ``set``.

An Airflow DAG file runs on taskstate with each ``from airflow... import X`` replaced by
``from taskstate.sdk import X``. Importing an Airflow name taskstate does not build (a sensor,
a timetable, ...) raises :class:`~taskstate.errors.UnsupportedFeatureError` naming the feature.
The names a worker backend written for Apache Airflow 3.3.2 imports (``BaseStoreBackend``,
``TaskScope``, ``AssetScope``, ``StoreScope``) are :mod:`taskstate.state`'s own.
"""

from typing import NoReturn

from taskstate.sdk import timezone
from taskstate.sdk.asset import Asset, AssetAlias, AssetAll, AssetAny, Metadata
from taskstate.sdk.asset_decorator import asset
from taskstate.sdk.chain import chain, chain_linear, cross_downstream
from taskstate.sdk.context import Context, get_current_context
from taskstate.sdk.dag import DAG
from taskstate.sdk.dag_decorator import dag
from taskstate.sdk.decorators import setup, teardown
from taskstate.sdk.edges import Label
from taskstate.sdk.exceptions import (
    AirflowException,
    AirflowFailException,
    AirflowSkipException,
    AirflowTaskTimeout,
)
from taskstate.sdk.mapped import MappedOperator
from taskstate.sdk.operator import BaseOperator
from taskstate.sdk.operators.bash import BashOperator
from taskstate.sdk.operators.branch import BaseBranchOperator
from taskstate.sdk.operators.empty import EmptyOperator
from taskstate.sdk.operators.python import (
    BranchPythonOperator,
    PythonOperator,
    ShortCircuitOperator,
)
from taskstate.sdk.outputs import XComArg
from taskstate.sdk.params import Param, ParamsDict
from taskstate.sdk.task import Task, task
from taskstate.sdk.task_group_decorator import task_group
from taskstate.sdk.taskgroup import TaskGroup
from taskstate.sdk.trigger_rule import TriggerRule
from taskstate.sdk.unsupported import UNSUPPORTED_NAMES
from taskstate.state.retention import NEVER_EXPIRE
from taskstate.state.store_backend import BaseStoreBackend, StoreScope
from taskstate.state.types import AssetScope, TaskScope

__all__ = [
    "DAG",
    "NEVER_EXPIRE",
    "AirflowException",
    "AirflowFailException",
    "AirflowSkipException",
    "AirflowTaskTimeout",
    "Asset",
    "AssetAlias",
    "AssetAll",
    "AssetAny",
    "AssetScope",
    "BaseBranchOperator",
    "BaseOperator",
    "BaseStoreBackend",
    "BashOperator",
    "BranchPythonOperator",
    "Context",
    "EmptyOperator",
    "Label",
    "MappedOperator",
    "Metadata",
    "Param",
    "ParamsDict",
    "PythonOperator",
    "ShortCircuitOperator",
    "StoreScope",
    "Task",
    "TaskGroup",
    "TaskScope",
    "TriggerRule",
    "XComArg",
    "asset",
    "chain",
    "chain_linear",
    "cross_downstream",
    "dag",
    "get_current_context",
    "setup",
    "task",
    "task_group",
    "teardown",
    "timezone",
]


def __getattr__(name: str) -> NoReturn:
    feature = UNSUPPORTED_NAMES.get(name)
    if feature is None:
        raise AttributeError(f"module 'taskstate.sdk' has no attribute {name!r}")
    from taskstate.sdk.options import unsupported

    raise unsupported(feature, f"{name} (imported from taskstate.sdk)")
