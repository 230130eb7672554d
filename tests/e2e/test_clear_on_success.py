"""``[state_store] clear_on_success``: a task instance that succeeds leaves no state behind; one
that fails keeps its state for the next try or for a person to look at. Off by default."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .conftest import DAGS, worker_backend_env

pytestmark = pytest.mark.e2e

DAG = DAGS / "clear_on_success.py"
ON = {"TASKSTATE__STATE_STORE__CLEAR_ON_SUCCESS": "true"}


@pytest.mark.parametrize(
    ("env", "succeeded_keeps"),
    [
        pytest.param(ON, {}, id="on"),
        pytest.param({}, {"cursor": 41, "note": "kept unless cleared on success"}, id="default"),
    ],
)
def test_clear_on_success(
    make_cli: Callable[..., Any], env: dict[str, str], succeeded_keeps: dict[str, Any]
) -> None:
    cli = make_cli("clear-on-success", env)
    run = cli.dags_test(DAG, "--run-id", "r1")
    assert run.code == 1, str(run)
    assert run.summary() == {"succeeds": ("success", 1), "fails": ("failed", 1)}
    expected = {"fails": {"cursor": 7}}
    if succeeded_keeps:
        expected["succeeds"] = succeeded_keeps
    assert cli.task_keys("e2e_clear_on_success", "r1") == expected


def test_clear_on_success_purges_worker_backend_objects(
    make_cli: Callable[..., Any], tmp_path: Path
) -> None:
    objects = tmp_path / "objects"
    objects.mkdir()
    env = {
        **ON,
        **worker_backend_env("file_state_backend.FileStateBackend", root=str(objects)),
    }
    cli = make_cli("clear-on-success-worker", env)
    run = cli.dags_test(DAG, "--run-id", "r1")
    assert run.code == 1, str(run)
    [kept] = cli.task_state("e2e_clear_on_success", "r1")
    assert (kept["task_id"], kept["key"]) == ("fails", "cursor")
    # The server cleared the succeeded task's references; its two objects wait in the purge
    # queue until a purge runs where the worker backend is configured.
    assert len(list(objects.iterdir())) == 3
    purge = cli.run("state", "purge", "--path", str(DAG.parent))
    assert purge.code == 0, str(purge)
    assert "purged 2 queued objects" in purge.stdout
    # Only the failed task's object remains.
    assert [f"file://{p}" for p in objects.iterdir()] == [kept["ref"]]
    again = cli.run("state", "purge", "--path", str(DAG.parent))
    assert "purged 0 queued objects" in again.stdout
