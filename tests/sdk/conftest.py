"""Fixtures shared by the sdk tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from taskstate.sdk.exceptions import DownstreamTasksSkipped
from taskstate.sdk.operators.branch import SKIP_XCOM_KEY


@dataclass
class RecordingTi:
    """A ``context["ti"]`` that keeps what the task pushes."""

    map_index: int = -1
    pushed: dict[str, Any] = field(default_factory=dict)

    def xcom_push(self, key: str, value: Any) -> None:
        self.pushed[key] = value


@dataclass(frozen=True)
class Decided:
    """How a branch or short circuit ended: its output (None if it skipped and stored none),
    its skip decision (the XCom it pushed, if any) and whether it raised DownstreamTasksSkipped."""

    output: Any
    decision: dict[str, list[str]] | None
    raised: bool


Decide = Callable[..., Decided]


@pytest.fixture
def decide() -> Decide:
    """Run an operator's ``execute`` as the task process would, and tell how it decided."""

    def run(op: Any, map_index: int = -1) -> Decided:
        ti = RecordingTi(map_index)
        try:
            output = op.execute({"ti": ti})
        except DownstreamTasksSkipped:
            return Decided(None, ti.pushed.get(SKIP_XCOM_KEY), True)
        return Decided(output, ti.pushed.get(SKIP_XCOM_KEY), False)

    return run
