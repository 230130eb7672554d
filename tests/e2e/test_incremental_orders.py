"""examples/incremental_orders.py, run twice: a retry reattaches to its remote job through task
state, and the watermark on asset ``orders`` moves forward from one run to the next."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from .conftest import EXAMPLES

pytestmark = pytest.mark.e2e

DAG = EXAMPLES / "incremental_orders.py"
SUBMITTED = re.compile(r"^submitted remote job (job-[0-9a-f]{8}) \(this costs money\)$")


@dataclass
class OrdersRuns:
    cli: Any
    first: Any
    watermark_after_first: Any
    second: Any
    watermark_after_second: Any


@pytest.fixture(scope="module")
def orders(make_cli: Callable[..., Any]) -> OrdersRuns:
    cli = make_cli("orders")
    get_watermark = ("state", "get", "watermark", "--asset", "orders", "--json")
    first = cli.dags_test(DAG, "--run-id", "r1")
    after_first = cli.run(*get_watermark).json()
    second = cli.dags_test(DAG, "--run-id", "r2")
    after_second = cli.run(*get_watermark).json()
    return OrdersRuns(cli, first, after_first, second, after_second)


def _submitted(run: Any) -> list[str]:
    return [m[1] for line in run.lines("submit") if (m := SUBMITTED.match(line))]


def test_both_runs_succeed_with_one_retry_of_submit(orders: OrdersRuns) -> None:
    for run in (orders.first, orders.second):
        assert run.code == 0, str(run)
        assert run.summary() == {"submit": ("success", 2), "load": ("success", 1)}, str(run)


def test_the_retry_reattaches_instead_of_resubmitting(orders: OrdersRuns) -> None:
    for run in (orders.first, orders.second):
        lines = run.lines("submit")
        [job_id] = _submitted(run)  # exactly once across both tries
        failed = "[supervisor] try 1 failed: the task raised an exception; task instance is"
        assert f"{failed} up_for_retry" in lines, str(run)
        assert f"try 2: reattaching to {job_id} instead of resubmitting" in lines, str(run)
        assert f"{job_id} finished" in lines
        # Try 1 failed after storing the id; try 2 found it.
        assert lines.index(f"try 2: reattaching to {job_id} instead of resubmitting") > (
            lines.index("[supervisor] try 2 of submit started")
        )
    assert _submitted(orders.first) != _submitted(orders.second)  # each run has its own job


def test_the_job_id_is_kept_in_each_runs_task_state(orders: OrdersRuns) -> None:
    entries = orders.cli.task_state("incremental_orders")
    kept = {(e["run_id"], e["task_id"], e["key"]): e["value"] for e in entries}
    assert kept == {
        ("r1", "submit", "job_id"): _submitted(orders.first)[0],
        ("r2", "submit", "job_id"): _submitted(orders.second)[0],
    }


def test_the_watermark_advances_across_runs(orders: OrdersRuns) -> None:
    assert orders.watermark_after_first["value"] == "2026-01-02"
    assert orders.watermark_after_second["value"] == "2026-01-03"
    assert "load | loaded 3 orders after 2026-01-01" in orders.first.stdout.splitlines()
    assert "load | loaded 3 orders after 2026-01-02" in orders.second.stdout.splitlines()
    entries = {e["key"]: e["value"] for e in orders.cli.asset_state("orders")}
    assert entries == {"watermark": "2026-01-03", "rows_loaded": 6}
