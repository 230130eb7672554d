"""``taskstate tasks logs``: prints one try's log file from ``$TASKSTATE_HOME/logs``, and says
why when there is none (the runs behind those errors are made in tests/e2e/test_logs.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from taskstate.supervisor.logfile import task_instance_log_folder

Cli = Callable[..., Any]  # tests/cli/conftest.py: run the command, get a Result

RUN_ID = "scheduled__2026-01-01T00:00:00+00:00"


def write_log(home: Path, task_id: str, attempt: int, text: str, map_index: int = -1) -> None:
    folder = task_instance_log_folder(home / "logs", "etl", RUN_ID, task_id, map_index)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"attempt={attempt}.log").write_text(text, encoding="utf-8")


def logs(cli: Cli, task_id: str, *options: str) -> Any:
    return cli(
        "tasks", "logs", "--dag-id", "etl", "--run-id", RUN_ID, "--task-id", task_id, *options
    )


def test_the_help_says_where_the_logs_are(cli: Cli) -> None:
    result = cli("tasks", "logs", "--help")
    text = " ".join(result.stdout.split())
    assert result.code == 0, result.stderr
    assert "on the machine that ran the task" in text
    assert "$TASKSTATE_HOME/logs" in text
    assert "dag_id=D/run_id=R/task_id=T[/map_index=N]/attempt=K.log" in text
    for option in ("--dag-id", "--run-id", "--task-id", "--map-index", "--try"):
        assert option in text


def test_the_latest_try_is_printed_by_default_and_any_try_on_request(
    cli: Cli, cli_home: Path
) -> None:
    write_log(cli_home, "load", 1, "first try\n")
    write_log(cli_home, "load", 2, "second try: ünïcode kept\n")

    latest = logs(cli, "load")
    first = logs(cli, "load", "--try", "1")

    assert (latest.code, latest.stdout, latest.stderr) == (0, "second try: ünïcode kept\n", "")
    assert (first.code, first.stdout) == (0, "first try\n")


def test_a_mapped_instance_is_chosen_with_map_index(cli: Cli, cli_home: Path) -> None:
    write_log(cli_home, "each", 1, "item three\n", map_index=3)

    result = logs(cli, "each", "--map-index", "3")

    assert (result.code, result.stdout) == (0, "item three\n")


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--run-id", "../../x", "invalid run_id '../../x'"),
        ("--dag-id", "a/b", "invalid dag_id 'a/b'"),
        ("--task-id", "..%2F", "invalid task_id '..%2F'"),
    ],
)
def test_an_id_that_cannot_exist_is_refused(
    cli: Cli, cli_home: Path, option: str, value: str, message: str
) -> None:
    ids = {"--dag-id": "etl", "--run-id": RUN_ID, "--task-id": "load", option: value}
    result = cli("tasks", "logs", *(part for pair in ids.items() for part in pair))

    assert result.code == 2
    assert result.error.startswith(message)
    assert not (cli_home / "logs").exists()


def test_bad_option_values_are_refused(cli: Cli) -> None:
    assert logs(cli, "load", "--try", "0").code == 2
    assert logs(cli, "load", "--map-index", "-1").code == 2


def test_without_a_file_or_a_run_the_error_names_the_run(cli: Cli) -> None:
    result = logs(cli, "load")

    assert result.code == 2
    assert result.error == f"DAG 'etl' has no run {RUN_ID!r}"
