"""Where a try's log file goes: Airflow's layout, with every id encoded so none leaves the
logs folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from taskstate.supervisor.logfile import (
    append_lines,
    logged_tries,
    open_try_log,
    task_instance_log_folder,
    try_log_path,
)


def test_the_layout_is_airflows(tmp_path: Path) -> None:
    path = try_log_path(tmp_path, "etl", "manual_1", "load", -1, 2)
    assert path == tmp_path / "dag_id=etl/run_id=manual_1/task_id=load/attempt=2.log"


def test_a_mapped_instance_has_a_folder_of_its_own(tmp_path: Path) -> None:
    path = try_log_path(tmp_path, "etl", "r", "each", 7, 1)
    assert path == tmp_path / "dag_id=etl/run_id=r/task_id=each/map_index=7/attempt=1.log"


def test_characters_outside_letters_digits_and_dot_dash_underscore_are_encoded(
    tmp_path: Path,
) -> None:
    folder = task_instance_log_folder(
        tmp_path, "d", "manual__2026-01-01T00:00:00+00:00", "group.task"
    )
    assert folder.relative_to(tmp_path).parts == (
        "dag_id=d",
        "run_id=manual__2026-01-01T00%3A00%3A00%2B00%3A00",
        "task_id=group.task",
    )


@pytest.mark.parametrize(
    "hostile", ["../../x", "..", ".", "/etc/passwd", "a/../../b", "%2e%2e", "x\x00y", "~root"]
)
def test_no_id_leads_out_of_the_logs_folder(tmp_path: Path, hostile: str) -> None:
    logs = tmp_path / "logs"
    path = try_log_path(logs, hostile, hostile, hostile, 0, 1)

    assert path.resolve().is_relative_to(logs.resolve())
    relative = path.relative_to(logs).parts
    assert len(relative) == 5
    assert [part.split("=", 1)[0] for part in relative] == [
        "dag_id",
        "run_id",
        "task_id",
        "map_index",
        "attempt",
    ]
    with open_try_log(path) as file:
        file.write("written\n")
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == [path]


def test_distinct_ids_get_distinct_folders(tmp_path: Path) -> None:
    ids = ["a/b", "a%2Fb", "a_b", "a:b", "a%3Ab"]
    folders = {task_instance_log_folder(tmp_path, "d", run_id, "t") for run_id in ids}
    assert len(folders) == len(ids)


def test_logged_tries_lists_the_attempt_files_in_order(tmp_path: Path) -> None:
    folder = task_instance_log_folder(tmp_path, "d", "r", "t")
    assert logged_tries(folder) == []
    for number in (10, 2, 1):
        append_lines(folder / f"attempt={number}.log", ["x"])
    (folder / "attempt=0.log").write_text("")
    (folder / "attempt=3.log.tmp").write_text("")
    (folder / "map_index=0").mkdir()
    assert logged_tries(folder) == [1, 2, 10]


def test_a_try_that_starts_replaces_a_stale_file_and_later_lines_are_appended(
    tmp_path: Path,
) -> None:
    path = try_log_path(tmp_path, "d", "r", "t", -1, 1)
    append_lines(path, ["from a deleted run of the same ids"])
    with open_try_log(path) as file:
        file.write("[supervisor] try 1 of t started\n")
    append_lines(path, ["[runner] retrying in 0s"])
    assert path.read_text() == "[supervisor] try 1 of t started\n[runner] retrying in 0s\n"
