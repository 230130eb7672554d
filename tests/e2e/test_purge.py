"""The purge queue: references deleted through the public API or with a DAG run leave their
objects behind until ``taskstate state purge`` runs where the worker backend is configured; a key
set again meanwhile keeps its object. ``--orphans`` removes objects no reference names, once they
are older than ``--older-than``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import DAGS, EXAMPLES, OBJECT_STORAGE, worker_backend_env

pytestmark = pytest.mark.e2e

CRASH_DAG = DAGS / "crash_dag.py"  # also its e2e_crash_assets, which sets and reads asset keys
SEED_DAG = "aip103_memory_backend_test"


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_public_clear_queues_objects_and_purge_removes_them(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "objects"
    env = _object_storage(root)
    run = cli.dags_test(EXAMPLES / "seed_task_state.py", "--run-id", "r1", env=env)
    assert run.code == 0, str(run)
    assert len(_files(root)) == 2  # job_id and checkpoint of the first task

    selector = ("--dag-id", "aip103_memory_backend_test", "--run-id", "r1")
    cleared = cli.run("state", "clear", *selector, "--task-id", "test_set_and_get", env=env)
    assert cleared.code == 0, str(cleared)
    listed = cli.run("state", "list", *selector, "--json", env=env)
    assert json.loads(listed.stdout) == []
    assert len(_files(root)) == 2  # the API server cannot reach them: they are queued

    purged = cli.run("state", "purge", env=env)
    assert purged.code == 0, str(purged)
    assert purged.stdout == "purged 2 queued objects\n"
    assert _files(root) == []


def test_purge_needs_a_worker_backend(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli.run("state", "purge")
    assert result.code == 2
    assert "error: state purge needs [workers] state_backend" in result.stderr


def _object_storage(root: Path) -> dict[str, str]:
    return worker_backend_env(OBJECT_STORAGE, root=f"file://{root}")


def _assets(cli, run_id: str, *, write=None, read=None):  # type: ignore[no-untyped-def]
    """Run dags/crash_dag.py's e2e_crash_assets: set the keys in ``write``, return ``read``'s."""
    env = {"E2E_WRITE": json.dumps(write or {}), "E2E_READ": json.dumps(read or {})}
    run = cli.dags_test(CRASH_DAG, "--dag-id", "e2e_crash_assets", "--run-id", run_id, env=env)
    assert run.code == 0, str(run)
    [line] = [x for x in run.lines("assets") if x.startswith("assets: ")]
    return json.loads(line.removeprefix("assets: "))


def test_a_key_set_again_after_a_public_clear_gets_a_new_object(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "objects"
    cli.env.update(_object_storage(root))
    asset = "e2e_purge_ledger"
    _assets(cli, "w1", write={asset: {"k": {"v": 1}}})
    [entry] = cli.asset_state(asset)
    stored = Path(entry["ref"].removeprefix("file://"))
    assert json.loads(stored.read_text()) == {"v": 1}

    cleared = cli.run("state", "clear", "--asset", asset)
    assert cleared.code == 0, str(cleared)
    assert cli.asset_state(asset) == []
    assert stored.exists()  # queued: the API server cannot reach it

    # The same key stores a new object; the task that set it claims the queued object of the
    # key, which nothing names, and purges it itself.
    _assets(cli, "w2", write={asset: {"k": {"v": 2}}})
    [again] = cli.asset_state(asset)
    assert again["ref"] != entry["ref"]
    fresh = Path(again["ref"].removeprefix("file://"))
    assert _files(root) == [fresh]

    purged = cli.run("state", "purge")
    assert purged.code == 0, str(purged)
    assert purged.stdout == "purged 0 queued objects\n", str(purged)
    assert _files(root) == [fresh]
    assert json.loads(fresh.read_text()) == {"v": 2}
    assert _assets(cli, "r1", read={asset: ["k"]}) == {asset: {"k": {"v": 2}}}


def test_a_deleted_run_queues_its_objects_for_purge(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "objects"
    cli.env.update(_object_storage(root))
    run = cli.dags_test(EXAMPLES / "seed_task_state.py", "--run-id", "r1")
    assert run.code == 0, str(run)
    [listed] = cli.run("runs", "list", "--json").json()
    assert (listed["dag_id"], listed["run_id"], listed["state"]) == (SEED_DAG, "r1", "success")
    objects = _files(root)
    assert sorted(p.parent.name for p in objects) == ["checkpoint", "job_id"]

    deleted = cli.run("runs", "delete", "--dag-id", SEED_DAG, "--run-id", "r1")
    assert deleted.code == 0, str(deleted)
    assert deleted.stdout == (
        f"deleted run 'r1' of {SEED_DAG!r} (3 task instances); "
        "2 object(s) queued for `taskstate state purge`\n"
    )
    assert cli.run("runs", "list", "--json").json() == []
    assert cli.task_state(SEED_DAG) == []
    assert _files(root) == objects  # queued, not yet removed

    dry = cli.run("state", "purge", "--dry-run")
    assert dry.code == 0, str(dry)
    assert sorted(dry.stdout.splitlines()) == sorted(
        [*(f"would remove file://{p}" for p in objects), "would purge 2 queued objects"]
    )
    assert _files(root) == objects

    purged = cli.run("state", "purge")
    assert purged.code == 0, str(purged)
    assert purged.stdout == "purged 2 queued objects\n"
    assert _files(root) == []

    missing = cli.run("runs", "delete", "--dag-id", SEED_DAG, "--run-id", "r1")
    assert missing.code == 2, str(missing)
    assert missing.stderr == f"error: DAG {SEED_DAG!r} has no run 'r1'\n"


def test_orphans_younger_than_the_grace_period_are_left(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "objects"
    cli.env.update(worker_backend_env("crash_backend.CrashingBackend", root=f"file://{root}"))
    # A task killed between storing the object of key "fresh" and writing its reference.
    crash = {"root": f"file://{root}", "crash_at": "stored"}
    run = cli.dags_test(
        CRASH_DAG,
        "--dag-id",
        "e2e_crash",
        "--run-id",
        "r1",
        env={
            "TASKSTATE__WORKERS__STATE_BACKEND_KWARGS": json.dumps(crash),
            "E2E_CASE": json.dumps({"op": "task-set-new", "asset": None}),
        },
    )
    assert run.summary() == {"keeper": ("success", 1), "crasher": ("failed", 1)}, str(run)
    objects = _files(root)
    [orphan] = [p for p in objects if p.parent.name == "fresh"]
    assert len(objects) == 6  # keep_1, keep_2, the run's asset key, over, doomed, fresh
    purge = ("state", "purge", "--orphans", "--path", DAGS)

    young = cli.run(*purge)
    assert young.code == 0, str(young)
    assert young.stdout == "purged 0 queued objects; removed 0 orphans of 0 objects checked\n"
    assert _files(root) == objects

    dry = cli.run(*purge, "--older-than", "0", "--dry-run")
    assert dry.code == 0, str(dry)
    assert dry.stdout == (
        f"would remove file://{orphan}\n"
        "would purge 0 queued objects; would remove 1 orphan of 6 objects checked\n"
    )
    assert _files(root) == objects

    for bad, message in [
        (
            "abc",
            "error: --older-than takes a duration: seconds (3600), HH:MM:SS or ISO 8601 "
            "(PT1H), not 'abc'\n",
        ),
        ("-5", "error: --older-than cannot be negative, got '-5'\n"),
        ("1e11", "error: --older-than reaches back before the year 1, got '1e11'\n"),
    ]:
        refused = cli.run(*purge, "--older-than", bad)
        assert (refused.code, refused.stderr) == (2, message), str(refused)
    assert _files(root) == objects

    swept = cli.run(*purge, "--older-than", "0")
    assert swept.code == 0, str(swept)
    assert swept.stdout == "purged 0 queued objects; removed 1 orphan of 6 objects checked\n"
    assert _files(root) == sorted(set(objects) - {orphan})
