"""What a task receives: ``ti`` (the same id across tries), ``run_id``, ``dag_run`` and the
rest, by parameter name or as ``**context`` (tests/e2e/dags/context_dag.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from .conftest import DAGS

pytestmark = pytest.mark.e2e

DAG = DAGS / "context_dag.py"
CONTEXT_KEYS = [
    "asset_state",
    "asset_state_store",
    "conn",
    "dag",
    "dag_run",
    "data_interval_end",
    "data_interval_start",
    "ds",
    "ds_nodash",
    "inlet_events",
    "inlets",
    "logical_date",
    "macros",
    "map_index",
    "outlet_events",
    "outlets",
    "params",
    "run_id",
    "task",
    "task_instance",
    "task_instance_key_str",
    "task_state",
    "task_state_store",
    "templates_dict",
    "ti",
    "ts",
    "ts_nodash",
    "ts_nodash_with_tz",
    "var",
]


@dataclass
class ContextRun:
    run: Any
    seen: dict[str, list[dict[str, Any]]]
    ti_ids: dict[str, str]


@pytest.fixture(scope="module")
def context_run(make_cli: Callable[..., Any]) -> ContextRun:
    cli = make_cli("context")
    env = {
        "TASKSTATE__DATABASE__URL": cli.settings().database.url,
        "TASKSTATE__API__TOKEN_TTL_SECONDS": "900",
        "TASKSTATE__WORKERS__HEARTBEAT_INTERVAL": "5",
    }
    run = cli.dags_test(DAG, "--run-id", "ctx-1", env=env)
    seen = {
        task: [
            json.loads(line[len("CONTEXT ") :])
            for line in run.lines(task)
            if line.startswith("CONTEXT ")
        ]
        for task in ("named", "everything", "with_args")
    }
    with cli.api() as client:
        tis = client.get_run("e2e_context", "ctx-1")["task_instances"]
    return ContextRun(run, seen, {ti["task_id"]: ti["id"] for ti in tis})


def test_the_run_succeeds(context_run: ContextRun) -> None:
    assert context_run.run.code == 0, str(context_run.run)
    assert context_run.run.summary() == {
        "named": ("success", 2),
        "with_args": ("success", 1),
        "everything": ("success", 1),
    }


def test_named_parameters_receive_their_entries(context_run: ContextRun) -> None:
    first, second = context_run.seen["named"]
    ti_id = context_run.ti_ids["named"]
    for try_number, seen in ((1, first), (2, second)):
        assert seen == {
            "ti": {
                "id": ti_id,
                "dag_id": "e2e_context",
                "run_id": "ctx-1",
                "task_id": "named",
                "map_index": -1,
                "try_number": try_number,
            },
            "run_id": "ctx-1",
            "dag_run": {"dag_id": "e2e_context", "run_id": "ctx-1"},
            "map_index": -1,
        }


def test_var_keyword_receives_the_whole_context(context_run: ContextRun) -> None:
    [seen] = context_run.seen["everything"]
    assert seen["keys"] == CONTEXT_KEYS
    assert seen["ti"]["id"] == context_run.ti_ids["everything"]
    assert seen["ti"]["try_number"] == 1 and seen["ti"]["map_index"] == -1
    assert seen["run_id"] == "ctx-1"
    assert seen["dag_run"] == {"dag_id": "e2e_context", "run_id": "ctx-1"}
    assert seen["same_ti"] is True


def test_call_arguments_and_context_together(context_run: ContextRun) -> None:
    assert context_run.seen["with_args"] == [{"label": "hello", "times": 2, "task_id": "with_args"}]


def test_the_task_process_sees_no_server_settings(context_run: ContextRun) -> None:
    [env] = [line for line in context_run.run.lines("everything") if line.startswith("ENV ")]
    assert json.loads(env[len("ENV ") :]) == ["TASKSTATE__WORKERS__HEARTBEAT_INTERVAL"]


def test_task_output_is_printed_verbatim(context_run: ContextRun) -> None:
    assert "[bold]not markup[/bold] :thumbs_up: [/]" in context_run.run.lines("everything")
