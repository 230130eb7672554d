"""``--parallelism 2``: independent tasks run at the same time, and dependencies still order
them (tests/e2e/dags/parallel.py: a >> [b, c] >> d, where b and c wait for each other)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from .conftest import DAGS

pytestmark = pytest.mark.e2e

DAG = DAGS / "parallel.py"


def test_independent_tasks_overlap_and_dependencies_order_them(cli: Any, tmp_path: Path) -> None:
    sync = tmp_path / "sync"
    sync.mkdir()
    run = cli.dags_test(DAG, "--parallelism", "2", env={"E2E_SYNC_DIR": str(sync)})
    assert run.code == 0, str(run)
    assert "b: met c" in run.lines("b") and "c: met b" in run.lines("c")
    times = {t: json.loads((sync / f"{t}.json").read_text()) for t in "abcd"}
    # b and c were running at the same time (each saw the other's file before it ended) ...
    assert times["b"]["start"] < times["c"]["end"] and times["c"]["start"] < times["b"]["end"]
    # ... and both after a, and before d.
    for middle in "bc":
        assert times["a"]["end"] <= times[middle]["start"]
        assert times[middle]["end"] <= times["d"]["start"]
    assert run.summary() == {t: ("success", 1) for t in "abcd"}
