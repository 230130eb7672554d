"""``EmptyOperator``: a task that does nothing (a join point, a placeholder)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from taskstate.sdk.operator import BaseOperator

__all__ = ["EmptyOperator"]


class EmptyOperator(BaseOperator):
    """A task whose ``execute`` does nothing; it succeeds (or skips) per its trigger rule."""

    ui_color = "#e8f7e4"

    def execute(self, context: Mapping[str, Any]) -> None:
        return None
