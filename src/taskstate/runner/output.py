"""What a DAG run shows on the terminal: each task's lines, prefixed, and a summary table."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

__all__ = ["RunOutput"]

_COLORS = ("cyan", "magenta", "green", "yellow", "blue", "bright_red", "bright_cyan")
_STATE_STYLES = {
    "success": "green",
    "failed": "red",
    "upstream_failed": "yellow",
    "skipped": "bright_black",
}


class RunOutput:
    """Thread-safe printing of task output (rich's console holds a lock)."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(highlight=False, soft_wrap=True)
        self._colors: dict[str, str] = {}

    def _color(self, task_id: str) -> str:
        return self._colors.setdefault(task_id, _COLORS[len(self._colors) % len(_COLORS)])

    def run_started(self, dag_id: str, run_id: str, tasks: int) -> None:
        self.console.print(Text(f"DAG {dag_id}: run {run_id} with {tasks} tasks", style="bold"))

    def line(self, task_id: str, line: str) -> None:
        text = Text(f"{task_id} | ", style=self._color(task_id))
        text.append(line)
        self.console.print(text)

    def summary(self, dag_id: str, run_id: str, state: str, tis: list[dict[str, Any]]) -> None:
        table = Table(title=f"{dag_id} / {run_id}: {state}", title_justify="left")
        table.add_column("task")
        table.add_column("map index", justify="right")
        table.add_column("state")
        table.add_column("tries", justify="right")
        table.add_column("duration", justify="right")
        for ti in tis:
            table.add_row(
                ti["task_id"],
                "" if ti["map_index"] < 0 else str(ti["map_index"]),
                Text(ti["state"], style=_STATE_STYLES.get(ti["state"], "")),
                str(ti["try_number"]),
                _duration(ti.get("started_at"), ti.get("ended_at")),
            )
        self.console.print(table)


def _duration(started: str | None, ended: str | None) -> str:
    if not started or not ended:
        return ""
    seconds = (datetime.fromisoformat(ended) - datetime.fromisoformat(started)).total_seconds()
    return f"{seconds:.2f}s"
