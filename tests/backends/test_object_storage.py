"""``ObjectStorageStateBackend`` on file:// and memory://: the worker contract and its specifics."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fsspec.implementations.memory import MemoryFileSystem

from taskstate.backends.object_storage import (
    MAX_COMPONENT,
    ObjectStorageStateBackend,
    encode_component,
)
from taskstate.backends.registry import create_backend
from taskstate.errors import BackendError, ConfigError, ReferenceResolutionError
from taskstate.state.backend import BaseStateBackend
from taskstate.state.types import TaskScope
from taskstate.testing import WorkerBackendContract
from taskstate.testing.s3 import create_bucket, storage_options
from taskstate.testing.worker_contract import HOSTILE_NAMES

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def memory_root() -> Iterator[str]:
    """A memory:// root of this test's own, removed afterwards."""
    bucket = f"bucket-{uuid.uuid4().hex}"
    yield f"memory://{bucket}/prefix"
    fs = MemoryFileSystem()
    if fs.exists(f"/{bucket}"):
        fs.rm(f"/{bucket}", recursive=True)
    assert not [path for path in fs.store if path.startswith(f"/{bucket}")]


class TestFileContract(WorkerBackendContract):
    @pytest.fixture
    def backend(self, tmp_path: Path) -> BaseStateBackend:
        return ObjectStorageStateBackend(root=(tmp_path / "objects").as_uri())


class TestMemoryContract(WorkerBackendContract):
    @pytest.fixture
    def backend(self, memory_root: str) -> BaseStateBackend:
        return ObjectStorageStateBackend(root=memory_root)


class TestS3Contract(WorkerBackendContract):
    """On S3 through s3fs, against the local moto server."""

    @pytest.fixture
    def backend(self, s3_root: str, s3_endpoint: str) -> BaseStateBackend:
        return ObjectStorageStateBackend(root=s3_root, **storage_options(s3_endpoint))


# -- layout and encoding ---------------------------------------------------------------


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=lambda n: repr(n)[:24])
def test_encoded_components_are_single_safe_segments(name: str) -> None:
    encoded = encode_component(name)
    assert encoded not in ("", ".", "..")
    assert "/" not in encoded
    assert "." not in encoded
    assert len(encoded) <= MAX_COMPONENT


def test_long_names_stay_unique() -> None:
    a, b = "k" * 2000, "k" * 1999 + "j"
    assert encode_component(a) != encode_component(b)
    assert encode_component(a) == encode_component(a)
    assert encode_component("") != encode_component("%")


def test_reference_is_the_full_url_under_the_root(tmp_path: Path) -> None:
    backend = ObjectStorageStateBackend(root=str(tmp_path / "objects"))
    ref = backend.serialize_task_state_value(value='"v"', key="job.id", ti_id="ti-1")
    assert ref == f"{(tmp_path / 'objects').as_uri()}/task/ti-1/job%2Eid"
    assert (tmp_path / "objects" / "task" / "ti-1" / "job%2Eid").read_text() == '"v"'
    ref = backend.serialize_asset_state_value(value='"w"', key="k", asset_name="s3://lake/x")
    assert ref.endswith("/asset/s3%3A%2F%2Flake%2Fx/k")


def test_hostile_names_write_only_under_the_root(tmp_path: Path) -> None:
    root = tmp_path / "root" / "objects"
    backend = ObjectStorageStateBackend(root=root.as_uri())
    for name in HOSTILE_NAMES:
        backend.serialize_task_state_value(value='"x"', key=name, ti_id=name)
        backend.serialize_asset_state_value(value='"x"', key=name, asset_name=name)
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(written) == 2 * len(HOSTILE_NAMES)
    assert all(root in p.parents for p in written)
    assert sorted(backend.iter_objects()) == sorted(
        f"{root.as_uri()}/{p.relative_to(root).as_posix()}" for p in written
    )


# -- references from the database are untrusted ---------------------------------------


@pytest.fixture
def fenced(tmp_path: Path) -> tuple[ObjectStorageStateBackend, Path, Path]:
    """A backend under ``tmp_path/root/objects`` and a sentinel file outside its root."""
    root = tmp_path / "root" / "objects"
    root.mkdir(parents=True)
    outside = tmp_path / "root" / "objects-sibling" / "task" / "ti" / "k"
    outside.parent.mkdir(parents=True)
    outside.write_text('"secret"')
    return ObjectStorageStateBackend(root=root.as_uri()), root, outside


def _tampered(root: Path, outside: Path) -> list[str]:
    return [
        f"{root.as_uri()}/task/../../objects-sibling/task/ti/k",
        f"{root.as_uri()}/../objects-sibling/task/ti/k",
        f"{root.as_uri()}-sibling/task/ti/k",
        outside.as_uri(),
        str(outside),
        f"memory://{outside}",
        f"s3://{outside.as_posix().lstrip('/')}",
        f"{root.as_uri()}/task/ti/%2E%2E/k",
        f"{root.as_uri()}/task/ti",
        f"{root.as_uri()}/task/ti/k/extra",
        f"{root.as_uri()}/asset/ti/k",  # an asset reference handed to a task hook
        f"{root.as_uri()}//task/ti/k",
        f"{root.as_uri()}/task/./k",
        "",
    ]


def test_tampered_references_are_refused_and_touch_nothing(
    fenced: tuple[ObjectStorageStateBackend, Path, Path],
) -> None:
    backend, root, outside = fenced
    for ref in _tampered(root, outside):
        before = outside.stat().st_atime_ns
        with pytest.raises(ReferenceResolutionError):
            backend.deserialize_task_state_value(ref)
        with pytest.raises(ReferenceResolutionError):
            backend.purge_task_state(ref)
        if "/asset/" not in ref:
            with pytest.raises(ReferenceResolutionError):
                backend.purge_asset_state(ref)
        assert outside.read_text() == '"secret"', ref
        assert outside.stat().st_atime_ns >= before
    assert list(backend.iter_objects()) == []


def test_tampered_s3_references_touch_nothing(s3_root: str, s3_endpoint: str) -> None:
    import s3fs  # type: ignore[import-untyped]

    options = storage_options(s3_endpoint)
    backend = ObjectStorageStateBackend(root=s3_root, **options)
    bucket = s3_root.removeprefix("s3://").split("/")[0]
    other_bucket = f"{bucket}-other"
    create_bucket(s3_endpoint, other_bucket)
    fs = s3fs.S3FileSystem(skip_instance_cache=True, **options)
    sentinels = [
        f"{other_bucket}/prefix/task/ti/k",  # another bucket, same layout
        f"{bucket}/prefix2/task/ti/k",  # a sibling prefix that starts like the root
        f"{bucket}/other/task/ti/k",  # another prefix of the same bucket
        f"{bucket}/task/ti/k",  # the bucket's top
    ]
    for path in sentinels:
        fs.pipe(path, b'"secret"')
    mine = backend.serialize_task_state_value(value='"mine"', key="k", ti_id="ti")
    tampered = [
        *(f"s3://{path}" for path in sentinels),
        f"{s3_root}/task/../../prefix2/task/ti/k",
        f"{s3_root}/task/ti/../../../other/task/ti/k",
        f"{s3_root}/task/ti/k/../../../../other/task/ti/k",
        f"{s3_root.replace('s3://', 's3a://')}/task/ti/k",
        f"{s3_root}/task/ti",
        mine.replace("s3://", "file:///"),
    ]
    for ref in tampered:
        with pytest.raises(ReferenceResolutionError, match="refusing"):
            backend.deserialize_task_state_value(ref)
        with pytest.raises(ReferenceResolutionError, match="refusing"):
            backend.purge_task_state(ref)
        with pytest.raises(ReferenceResolutionError, match="refusing"):
            backend.purge_object(ref)
    fs.invalidate_cache()
    assert all(fs.cat(path) == b'"secret"' for path in sentinels)
    assert backend.deserialize_task_state_value(mine) == '"mine"'
    assert list(backend.iter_objects()) == [mine]


def test_a_file_root_refuses_s3_references(tmp_path: Path, s3_root: str) -> None:
    backend = ObjectStorageStateBackend(root=tmp_path.as_uri())
    with pytest.raises(ReferenceResolutionError, match="refusing"):
        backend.purge_task_state(f"{s3_root}/task/ti/k")


def test_symbolic_links_do_not_lead_outside(
    fenced: tuple[ObjectStorageStateBackend, Path, Path],
) -> None:
    backend, root, outside = fenced
    (root / "task").mkdir()
    (root / "task" / "ti").symlink_to(outside.parent, target_is_directory=True)
    ref = f"{root.as_uri()}/task/ti/k"
    with pytest.raises(ReferenceResolutionError, match="symbolic link"):
        backend.deserialize_task_state_value(ref)
    with pytest.raises(ReferenceResolutionError):
        backend.purge_task_state(ref)
    assert outside.read_text() == '"secret"'


def test_memory_references_of_another_bucket_are_refused(memory_root: str) -> None:
    backend = ObjectStorageStateBackend(root=memory_root)
    other_bucket = f"bucket-{uuid.uuid4().hex}"
    other = ObjectStorageStateBackend(root=f"memory://{other_bucket}/prefix")
    try:
        ref = other.serialize_task_state_value(value='"theirs"', key="k", ti_id="ti")
        mine = backend.serialize_task_state_value(value='"mine"', key="k", ti_id="ti")
        assert ref != mine
        for tampered in [ref, ref.replace(other_bucket, "../" + other_bucket), mine + "/.."]:
            with pytest.raises(ReferenceResolutionError):
                backend.deserialize_task_state_value(tampered)
            with pytest.raises(ReferenceResolutionError):
                backend.purge_task_state(tampered)
        assert other.deserialize_task_state_value(ref) == '"theirs"'
    finally:
        MemoryFileSystem().rm(f"/{other_bucket}", recursive=True)


def test_missing_object_is_a_resolution_error_naming_the_ref(tmp_path: Path) -> None:
    backend = ObjectStorageStateBackend(root=tmp_path.as_uri())
    ref = f"{tmp_path.as_uri()}/task/ti/never-stored"
    with pytest.raises(ReferenceResolutionError, match="never-stored"):
        backend.deserialize_task_state_value(ref)
    backend.purge_task_state(ref)


# -- configuration ---------------------------------------------------------------------


def test_default_root_is_under_taskstate_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TASKSTATE_HOME", str(tmp_path / "home"))
    backend = ObjectStorageStateBackend()
    ref = backend.serialize_task_state_value(value='"v"', key="k", ti_id="ti")
    assert ref == f"{(tmp_path / 'home' / 'objects').resolve().as_uri()}/task/ti/k"
    assert (tmp_path / "home" / "objects" / "task" / "ti" / "k").is_file()


def test_registry_short_name_builds_it(tmp_path: Path) -> None:
    backend = create_backend(
        "object_storage", {"root": tmp_path.as_uri()}, setting="[workers] state_backend"
    )
    assert isinstance(backend, ObjectStorageStateBackend)


def test_missing_protocol_package_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    # s3fs is installed with the test extra: hide it, as on a machine without it.
    monkeypatch.setitem(sys.modules, "s3fs", None)
    monkeypatch.delitem(sys.modules["fsspec.registry"]._registry, "s3", raising=False)
    with pytest.raises(ConfigError, match=r"pip install 'taskstate\[s3\]'") as info:
        ObjectStorageStateBackend(root="s3://bucket/prefix", client_kwargs={})
    assert info.value.detail["package"] == "s3fs"


@pytest.mark.parametrize(
    "root", ["relative/path", "file:///", "memory://", "/tmp/../etc", "nope://x/y"]
)
def test_unusable_roots_are_config_errors(root: str) -> None:
    with pytest.raises(ConfigError):
        ObjectStorageStateBackend(root=root)


def test_server_side_methods_say_it_is_a_worker_backend(tmp_path: Path) -> None:
    backend = ObjectStorageStateBackend(root=tmp_path.as_uri())
    with pytest.raises(NotImplementedError, match=r"\[workers\] state_backend"):
        backend.get(TaskScope("d", "r", "t"), "k")


def test_driver_errors_are_backend_errors(tmp_path: Path) -> None:
    root = tmp_path / "objects"
    root.mkdir()
    (root / "task").write_text("a file where a folder must be")
    backend = ObjectStorageStateBackend(root=root.as_uri())
    with pytest.raises(BackendError) as info:
        backend.serialize_task_state_value(value='"v"', key="k", ti_id="ti")
    assert isinstance(info.value.__cause__, OSError)


def test_iter_objects_lists_exactly_what_is_stored(memory_root: str) -> None:
    backend = ObjectStorageStateBackend(root=memory_root)
    assert list(backend.iter_objects()) == []
    refs = {
        backend.serialize_task_state_value(value='"a"', key="a", ti_id="t1"),
        backend.serialize_task_state_value(value='"b"', key="b/c", ti_id="t1"),
        backend.serialize_asset_state_value(value='"c"', key="k", asset_name="orders"),
    }
    gone = backend.serialize_task_state_value(value='"d"', key="d", ti_id="t2")
    backend.purge_task_state(gone)
    assert sorted(backend.iter_objects()) == sorted(refs)


def test_iter_objects_lists_interrupted_writes_and_purges_them(tmp_path: Path) -> None:
    backend = ObjectStorageStateBackend(root=tmp_path.as_uri())
    ref = backend.serialize_task_state_value(value='"a"', key="a", ti_id="t1")
    temporary = tmp_path / "task" / "t1" / f"b.{'0' * 32}.tmp"
    temporary.write_text('"half a val')
    (tmp_path / "task" / "t1" / "not-ours.txt").write_text("left alone")
    listed = list(backend.iter_objects())
    assert listed == [ref, temporary.as_uri()]
    assert backend.purge_object(temporary.as_uri()) is True
    assert not temporary.exists()
    assert (tmp_path / "task" / "t1" / "not-ours.txt").exists()
    with pytest.raises(ReferenceResolutionError):
        backend.purge_object((tmp_path / "task" / "t1" / "not-ours.txt").as_uri())
    with pytest.raises(ReferenceResolutionError):  # a temporary is not something to read
        backend.deserialize_task_state_value(temporary.as_uri())


@pytest.mark.parametrize("kind", ["file", "memory"])
def test_older_than_spares_new_objects(kind: str, tmp_path: Path, memory_root: str) -> None:
    root = tmp_path.as_uri() if kind == "file" else memory_root
    backend = ObjectStorageStateBackend(root=root)
    old = backend.serialize_task_state_value(value='"old"', key="old", ti_id="t")
    cutoff = datetime.now(UTC) + timedelta(seconds=5)
    assert list(backend.iter_objects(older_than=cutoff)) == [old]
    assert list(backend.iter_objects(older_than=cutoff - timedelta(hours=1))) == []
    # Set again after it was listed: the re-check leaves the object in place.
    assert backend.purge_object(old, older_than=cutoff - timedelta(hours=1)) is False
    assert backend.deserialize_task_state_value(old) == '"old"'
    assert backend.purge_object(old, older_than=cutoff) is True
    assert backend.purge_object(old, older_than=cutoff) is False  # gone already
    assert list(backend.iter_objects()) == []


def test_large_value_round_trips_on_disk(tmp_path: Path) -> None:
    backend = ObjectStorageStateBackend(root=tmp_path.as_uri())
    value = json.dumps("é" * (20 * 1024 * 1024))  # over two write chunks, multi-byte
    ref = backend.serialize_task_state_value(value=value, key="big", ti_id="ti")
    assert backend.deserialize_task_state_value(ref) == value
    assert [p.name for p in (tmp_path / "task" / "ti").iterdir()] == ["big"]


# -- end to end ------------------------------------------------------------------------


def _taskstate() -> list[str]:
    script = Path(sys.executable).with_name("taskstate")
    return [str(script)] if script.exists() else [sys.executable, "-m", "taskstate.cli"]


@pytest.mark.e2e
def test_seed_dag_stores_its_values_as_objects(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    objects = tmp_path / "objects"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("TASKSTATE")},
        "TASKSTATE_HOME": str(home),
        "HOME": str(home),
        "TASKSTATE__WORKERS__STATE_BACKEND": (
            "taskstate.backends.object_storage.ObjectStorageStateBackend"
        ),
        "TASKSTATE__WORKERS__STATE_BACKEND_KWARGS": json.dumps({"root": objects.as_uri()}),
    }
    dag = tmp_path / "seed_task_state.py"
    shutil.copy(REPO / "examples" / "seed_task_state.py", dag)
    run = subprocess.run(
        [*_taskstate(), "dags", "test", str(dag)],
        env=env,
        capture_output=True,
        text=True,
        timeout=50,
        check=False,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output
    for line in ("set + get: PASS", "delete: PASS", "clear: PASS"):
        assert line in output, output
    stored = {p.relative_to(objects).as_posix() for p in objects.rglob("*") if p.is_file()}
    assert stored, output
    listed = subprocess.run(
        [*_taskstate(), "state", "list", "--json", "--dag-id", "aip103_memory_backend_test"],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert listed.returncode == 0, listed.stdout + listed.stderr
    entries = json.loads(listed.stdout)
    # The first task's keys are left; the others deleted or cleared theirs, objects included.
    assert {entry["key"] for entry in entries} == {"job_id", "checkpoint"}
    refs = {entry["ref"] for entry in entries}
    assert all(entry["value"] is None for entry in entries)
    assert all(ref.startswith(objects.as_uri() + "/task/") for ref in refs)
    assert {ref.removeprefix(objects.as_uri() + "/") for ref in refs} == stored


def test_purging_the_last_object_removes_its_folder(tmp_path: Path) -> None:
    backend = ObjectStorageStateBackend(root=tmp_path.as_uri())
    first = backend.serialize_task_state_value(value='"a"', key="a", ti_id="ti")
    second = backend.serialize_task_state_value(value='"b"', key="b", ti_id="ti")
    backend.purge_task_state(first)
    assert (tmp_path / "task" / "ti").is_dir()  # still holds b
    backend.purge_task_state(second)
    assert not (tmp_path / "task" / "ti").exists()
    # The folder comes back with the next value.
    again = backend.serialize_task_state_value(value='"c"', key="a", ti_id="ti")
    assert again == first and backend.deserialize_task_state_value(again) == '"c"'
