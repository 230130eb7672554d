"""What the runner tests share: a DagRunner over a DAG file written from a test's source,
run in this process against a real API server, with its output captured."""

from __future__ import annotations

import io
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from taskstate.runner import DagRunner, RunResult
from taskstate.runner.output import RunOutput
from taskstate.sdk.loader import load_dag


class Run:
    """One DagRunner over a DAG file, with its output captured."""

    def __init__(self, api_server: Any, dag_file: Path, **options: Any) -> None:
        self.buffer = io.StringIO()
        console = Console(file=self.buffer, width=200, color_system=None, soft_wrap=True)
        self.output = RunOutput(console)
        self.client = api_server.public()
        self.runner = DagRunner(
            load_dag(dag_file),
            str(dag_file),
            client=self.client,
            api_url=api_server.url,
            run_id=options.get("run_id", "r1"),
            parallelism=options.get("parallelism", 2),
            max_map_length=options.get("max_map_length", 1024),
            heartbeat_interval=options.get("heartbeat_interval", 10.0),
            worker_backend=options.get("worker_backend"),
            output=self.output,
            log_folder=options.get("log_folder"),
            log_level=options.get("log_level", "INFO"),
        )

    def run(self) -> RunResult:
        return self.runner.run()

    def lines(self, task_id: str) -> list[str]:
        """The lines printed for ``task_id``, but a Python task's closing "Done. Returned value
        was: ..." log line (Airflow's)."""
        prefix = f"{task_id} | "
        text = self.buffer.getvalue()
        return [
            line[len(prefix) :]
            for line in text.splitlines()
            if line.startswith(prefix) and "Done. Returned value was:" not in line
        ]

    def task_state(self, task_id: str) -> dict[str, Any]:
        dag = self.runner.dag.dag_id
        entries = self.client.list_task_state(dag, self.runner.run_id, task_id)
        return {e["key"]: e["value"] for e in entries}


@pytest.fixture
def make_run(api_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Write a DAG file from source and build a Run of it."""
    # Loading a DAG file puts its folder on sys.path; keep that to this test.
    monkeypatch.setattr(sys, "path", list(sys.path))
    runs: list[Run] = []

    def make(source: str, name: str, **options: Any) -> Run:
        dag_file = tmp_path / f"{name}.py"
        if not dag_file.exists():
            dag_file.write_text(
                "import json, os, signal, sys, time\n"
                "from datetime import UTC, datetime\n"
                "from taskstate.sdk import DAG, task\n\n"
                f"with DAG(dag_id={name!r}, start_date=datetime(2026, 1, 1, tzinfo=UTC)):\n"
                + textwrap.indent(textwrap.dedent(source), "    ")
            )
        run = Run(api_server, dag_file, **options)
        runs.append(run)
        return run

    yield make
    for run in runs:
        run.client.close()
