"""The seed's two DAGs on ``ObjectStorageStateBackend``: over file://, over S3 (a local moto
server), and over S3 with Redis as the server-side backend at the same time.

After the runs, the references listed by the API are exactly the objects in the storage: the
first task's two keys, nothing for the asset, no value inline.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from taskstate.backends.redis import RedisStateBackend
from taskstate.state.types import AssetScope, TaskScope
from taskstate.testing.redis import available_server_url, temporary_prefix
from taskstate.testing.s3 import create_bucket, storage_options

from .conftest import EXAMPLES, OBJECT_STORAGE, SEED_PASS_LINES, worker_backend_env

pytestmark = pytest.mark.e2e


@dataclass
class Storage:
    root: str
    list_objects: Callable[[], list[str]]


@dataclass
class SeedRuns:
    storage: Storage
    cli: Any
    runs: list[Any]
    redis: RedisStateBackend | None = None
    """The server-side backend of the s3+redis runs, over the same server and prefix."""


def _file_storage(tmp: Path) -> Storage:
    root = tmp / "objects"

    def listed() -> list[str]:
        return sorted(p.as_uri() for p in root.rglob("*") if p.is_file())

    return Storage(root.as_uri(), listed)


def _s3_storage(endpoint: str) -> Storage:
    import s3fs  # type: ignore[import-untyped]

    bucket = f"seed-{uuid.uuid4().hex[:20]}"
    create_bucket(endpoint, bucket)
    fs = s3fs.S3FileSystem(skip_instance_cache=True, **storage_options(endpoint))

    def listed() -> list[str]:
        fs.invalidate_cache()
        return sorted(f"s3://{path}" for path in fs.find(bucket))

    return Storage(f"s3://{bucket}/taskstate", listed)


@pytest.fixture(scope="module", params=["file", "s3", "s3+redis"])
def seed(
    request: pytest.FixtureRequest,
    make_cli: Callable[..., Any],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[SeedRuns]:
    """Both seed DAGs, run once as run r1 in a home of their own."""
    kind = str(request.param)
    if kind == "file":
        storage = _file_storage(tmp_path_factory.mktemp("file-storage"))
        options: dict[str, Any] = {}
    else:
        endpoint = request.getfixturevalue("s3_endpoint")
        storage = _s3_storage(endpoint)
        options = storage_options(endpoint)
    env = {
        **worker_backend_env("object_storage", root=storage.root, **options),
    }
    redis_backend = None
    with ExitStack() as stack:
        if kind.endswith("+redis"):
            url = available_server_url()
            prefix = stack.enter_context(temporary_prefix(url))
            env["TASKSTATE__STATE_STORE__BACKEND"] = "redis"
            env["TASKSTATE__STATE_STORE__BACKEND_KWARGS"] = json.dumps(
                {"url": url, "prefix": prefix, "allow_volatile": True}
            )
            redis_backend = RedisStateBackend(url, prefix=prefix, allow_volatile=True)
            stack.callback(redis_backend.close)
        cli = make_cli(f"seed-{kind.replace('+', '-')}", env)
        runs = [
            cli.dags_test(EXAMPLES / "seed_task_state.py", "--run-id", "r1"),
            cli.dags_test(EXAMPLES / "seed_asset_state.py", "--run-id", "r1"),
        ]
        yield SeedRuns(storage, cli, runs, redis_backend)


def test_both_dags_pass(seed: SeedRuns) -> None:
    for run in seed.runs:
        assert run.code == 0, str(run)
        lines = run.stdout.splitlines()
        for expected in SEED_PASS_LINES:
            assert expected in lines, str(run)


def test_references_are_exactly_the_stored_objects(seed: SeedRuns) -> None:
    entries = seed.cli.task_state("aip103_memory_backend_test", "r1")
    assert {e["task_id"] for e in entries} == {"test_set_and_get"}
    assert sorted(e["key"] for e in entries) == ["checkpoint", "job_id"]
    for entry in entries:
        assert entry["value"] is None
        assert entry["backend"] == OBJECT_STORAGE
        assert entry["ref"].startswith(seed.storage.root + "/task/")
    assert seed.cli.asset_state("memory_backend_test_asset") == []
    # Deleted and cleared keys were purged; the two references name the only objects left.
    assert seed.storage.list_objects() == sorted(e["ref"] for e in entries)


def test_values_went_through_the_backend(seed: SeedRuns) -> None:
    task_run, asset_run = seed.runs
    assert "get('job_id') = 'spark_app_001'" in task_run.lines("test_set_and_get")
    assert "get('file_count') = '42'" in asset_run.lines("test_set_and_get")


def test_the_sql_tables_hold_only_references_or_nothing(seed: SeedRuns) -> None:
    rows = seed.cli.query("SELECT data, ref_backend FROM task_state")
    assert seed.cli.query("SELECT count(*) FROM asset_state") == [(0,)]
    if seed.redis is not None:
        assert rows == []  # the references live in Redis, read here without the API server
        scope = TaskScope("aip103_memory_backend_test", "r1", "test_set_and_get")
        stored = {e.key: e.stored for e in seed.redis.list_entries(scope)}
        assert sorted(stored) == ["checkpoint", "job_id"]
        assert {v.ref_backend for v in stored.values()} == {OBJECT_STORAGE}
        assert sorted(v.data for v in stored.values()) == seed.storage.list_objects()
        assert seed.redis.list_entries(AssetScope("memory_backend_test_asset")) == []
    else:
        assert sorted(ref for ref, _ in rows) == seed.storage.list_objects()
        assert {backend for _, backend in rows} == {OBJECT_STORAGE}
