"""Retention on asset state, from a task through its supervisor to the server: the expiry each
write asked for is stored, and a key whose retention has run out reads as missing in the task."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from .conftest import DAGS

pytestmark = pytest.mark.e2e


def test_asset_state_keeps_the_retention_each_write_asked_for(
    make_cli: Callable[..., Any],
) -> None:
    cli = make_cli("asset-retention")
    before = datetime.now(UTC)
    run = cli.dags_test(DAGS / "asset_retention.py")
    after = datetime.now(UTC)
    assert run.code == 0, str(run)
    lines = run.lines("cursor")
    assert "right away: brief = True" in lines, str(run)
    assert "1.5 s later: brief = None" in lines, str(run)

    listed = {e["key"]: e for e in cli.asset_state("feed")}
    assert set(listed) == {"cursor", "kept"}  # "brief" has expired: no longer listed
    expires = datetime.fromisoformat(listed["cursor"]["expires_at"])
    assert before + timedelta(hours=1) <= expires <= after + timedelta(hours=1)
    assert listed["kept"]["expires_at"] is None
