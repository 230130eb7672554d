"""Async task functions and the async twins of both accessors (tests/e2e/dags/async_tasks.py)."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import DAGS

pytestmark = pytest.mark.e2e

DAG = DAGS / "async_tasks.py"


def test_async_tasks_use_aget_aset_adelete_aclear(cli: Any) -> None:
    run = cli.dags_test(DAG, "--run-id", "r1")
    assert run.code == 0, str(run)
    assert "async produce: PASS" in run.lines("produce")
    assert "async consume: PASS offset=15" in run.lines("consume")
    assert run.summary() == {"produce": ("success", 1), "consume": ("success", 1)}
    # aclear removed a, c; adelete removed b; only what was set after the clear is left.
    assert cli.task_keys("e2e_async", "r1") == {"produce": {"kept": True}}
    assert {e["key"]: e["value"] for e in cli.asset_state("e2e_async_feed")} == {
        "offset": 15,
        "consumed": 15,
    }
