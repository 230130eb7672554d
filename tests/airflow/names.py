"""The names an Airflow 3 DAG file may import that issue 10 and the branches' contract give
``taskstate.sdk``: what the example and differential DAG files are held to, whatever the
current ``taskstate.sdk`` exports."""

from __future__ import annotations

ISSUE_NAMES = frozenset(
    {
        # Issue 10, item 1
        "DAG",
        "dag",
        "task",
        "task_group",
        "TaskGroup",
        "Asset",
        "asset",
        "AssetAlias",
        "Metadata",
        "NEVER_EXPIRE",
        "chain",
        "chain_linear",
        "cross_downstream",
        "Label",
        "Param",
        "TriggerRule",
        "setup",
        "teardown",
        "get_current_context",
        "Context",
        "BaseOperator",
        "EmptyOperator",
        "PythonOperator",
        "BashOperator",
        "BranchPythonOperator",
        "ShortCircuitOperator",
        "XComArg",
        # The contract: exceptions user code raises, under Airflow's names
        "AirflowSkipException",
        "AirflowFailException",
        "AirflowTaskTimeout",
    }
)
