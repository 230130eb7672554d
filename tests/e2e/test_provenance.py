"""Who wrote a key last: examples/incremental_orders.py run twice, one run after the other, moves
the watermark on asset ``orders``, and ``state list --asset`` names the second run's ``load``
as its writer; a write through the public API (``state set``) names ``api``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from .conftest import EXAMPLES

pytestmark = pytest.mark.e2e

DAG = EXAMPLES / "incremental_orders.py"


def _writer(run_id: str, task_id: str, try_number: int) -> dict[str, Any]:
    return {
        "dag_id": "incremental_orders",
        "run_id": run_id,
        "task_id": task_id,
        "map_index": -1,
        "try_number": try_number,
    }


@dataclass
class Written:
    runs: list[Any]
    after_first: dict[str, dict[str, Any]]
    after_second: dict[str, dict[str, Any]]
    table: Any
    after_api: dict[str, dict[str, Any]]
    task_state: list[dict[str, Any]]


@pytest.fixture(scope="module")
def written(make_cli: Callable[..., Any]) -> Written:
    cli = make_cli("provenance")

    def by_key() -> dict[str, dict[str, Any]]:
        return {e["key"]: e for e in cli.asset_state("orders")}

    first = cli.dags_test(DAG, "--run-id", "r1")
    after_first = by_key()
    second = cli.dags_test(DAG, "--run-id", "r2")
    after_second = by_key()
    table = cli.run("state", "list", "--asset", "orders")
    api_write = cli.run("state", "set", "reviewed", '"yes"', "--asset", "orders")
    assert api_write.code == 0, str(api_write)
    after_api = by_key()
    return Written(
        [first, second],
        after_first,
        after_second,
        table,
        after_api,
        cli.task_state("incremental_orders"),
    )


def test_both_runs_succeed(written: Written) -> None:
    for run in written.runs:
        assert run.code == 0, str(run)


def test_the_watermark_advances_and_names_each_runs_load(written: Written) -> None:
    assert written.after_first["watermark"]["value"] == "2026-01-02"
    assert written.after_first["watermark"]["written_by"] == _writer("r1", "load", 1)
    assert written.after_second["watermark"]["value"] == "2026-01-03"
    for key in ("watermark", "rows_loaded"):
        assert written.after_second[key]["written_by"] == _writer("r2", "load", 1)
        assert written.after_second[key]["expires_at"] is None


def test_the_table_shows_the_writer(written: Written) -> None:
    assert written.table.code == 0, str(written.table)
    assert "written by" in written.table.stdout
    assert "incremental_orders/r2/load try 1" in written.table.stdout


def test_a_public_api_write_is_written_by_api(written: Written) -> None:
    assert written.after_api["reviewed"]["value"] == "yes"
    assert written.after_api["reviewed"]["written_by"] == "api"
    assert written.after_api["watermark"]["written_by"] == _writer("r2", "load", 1)


def test_task_state_names_the_try_that_wrote_it(written: Written) -> None:
    # submit stores the job id in its first try, which fails; the retry only reads it.
    writers = {(e["run_id"], e["key"]): e["written_by"] for e in written.task_state}
    assert writers == {
        ("r1", "job_id"): _writer("r1", "submit", 1),
        ("r2", "job_id"): _writer("r2", "submit", 1),
    }
