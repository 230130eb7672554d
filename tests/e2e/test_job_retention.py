"""examples/job_retention.py under a server whose default retention is under a second: the job
id, kept with ``NEVER_EXPIRE``, survives the retry delay and the retry reattaches; the key kept
for one second reads as missing two seconds later, before any clean-up; ``state clean`` then
removes it."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from .conftest import EXAMPLES, OBJECT_STORAGE, worker_backend_env

pytestmark = pytest.mark.e2e

DAG = EXAMPLES / "job_retention.py"
SUBMITTED = re.compile(r"^submitted remote job (job-[0-9a-f]{8}) \(this costs money\)$")
# 0.864 s: shorter than submit's retry delay, so a job id kept by default would be gone.
SHORT_DEFAULT = {"TASKSTATE__STATE_STORE__DEFAULT_RETENTION_DAYS": "0.00001"}


@dataclass
class Retained:
    run: Any
    listed: list[dict[str, Any]]
    dry_run: dict[str, Any]
    cleaned: dict[str, Any]
    after: dict[str, Any]


@pytest.fixture(scope="module")
def retained(make_cli: Callable[..., Any]) -> Retained:
    cli = make_cli("job-retention", SHORT_DEFAULT)
    run = cli.dags_test(DAG, "--run-id", "r1")
    listed = cli.task_state("job_retention")
    dry_run = cli.run("state", "clean", "--dry-run", "--json").json()
    cleaned = cli.run("state", "clean", "--json").json()
    after = cli.run("state", "clean", "--dry-run", "--json").json()
    return Retained(run, listed, dry_run, cleaned, after)


def test_the_run_succeeds_with_one_retry_of_submit(retained: Retained) -> None:
    assert retained.run.code == 0, str(retained.run)
    assert retained.run.summary() == {"submit": ("success", 2), "scratch": ("success", 1)}


def test_the_retry_reattaches_to_the_job_kept_forever(retained: Retained) -> None:
    lines = retained.run.lines("submit")
    [job_id] = [m[1] for line in lines if (m := SUBMITTED.match(line))]
    assert (
        "[supervisor] try 1 failed: the task raised an exception; task instance is "
        "up_for_retry" in lines
    ), str(retained.run)
    assert f"try 2: reattaching to {job_id} instead of resubmitting" in lines
    assert f"{job_id} finished" in lines
    (entry,) = retained.listed
    assert (entry["task_id"], entry["key"], entry["value"]) == ("submit", "job_id", job_id)
    assert entry["expires_at"] is None
    assert entry["written_by"] == {
        "dag_id": "job_retention",
        "run_id": "r1",
        "task_id": "submit",
        "map_index": -1,
        "try_number": 1,
    }


def test_a_one_second_key_reads_as_missing_two_seconds_later(retained: Retained) -> None:
    assert retained.run.lines("scratch")[1:3] == [
        "right away: progress = {'step': 1}",
        "2 s later: progress = None",
    ], str(retained.run)
    assert "progress" not in {e["key"] for e in retained.listed}


def test_state_clean_removes_the_expired_key(retained: Retained) -> None:
    assert retained.dry_run["expired"] == 1
    assert retained.dry_run["removed"] == 0
    assert retained.cleaned == {
        "dry_run": False,
        "expired": 1,
        "removed": 1,
        "references_queued": 0,
        "batches": 1,
    }
    assert retained.after["expired"] == 0


def test_with_a_worker_backend_the_expired_object_is_purged(
    make_cli: Callable[..., Any], tmp_path_factory: pytest.TempPathFactory
) -> None:
    root = tmp_path_factory.mktemp("retention-objects")
    env = {**SHORT_DEFAULT, **worker_backend_env("object_storage", root=root.as_uri())}
    cli = make_cli("job-retention-objects", env)
    run = cli.dags_test(DAG, "--run-id", "r1")
    assert run.code == 0, str(run)
    assert "2 s later: progress = None" in run.lines("scratch")
    objects = sorted(p.as_uri() for p in root.rglob("*") if p.is_file())
    assert len(objects) == 2  # the job id's and the expired progress marker's

    cleaned = cli.run("state", "clean", "--json").json()
    assert (cleaned["removed"], cleaned["references_queued"]) == (1, 1)
    purged = cli.run("state", "purge")
    assert purged.code == 0, str(purged)
    assert purged.stdout.startswith("purged 1 queued object"), str(purged)

    (job,) = cli.task_state("job_retention")
    assert job["key"] == "job_id" and job["backend"] == OBJECT_STORAGE
    assert sorted(p.as_uri() for p in root.rglob("*") if p.is_file()) == [job["ref"]]
