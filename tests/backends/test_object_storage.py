"""``ObjectStorageStateBackend`` on file://, memory:// and S3 (a local moto server): the worker
contract, untrusted references, listing for the orphan sweep, and values published whole."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import SupportsIndex

import pytest
from fsspec.implementations.memory import MemoryFileSystem

from taskstate.backends.object_storage import (
    CHUNK_CHARS,
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


@pytest.fixture
def memory_root() -> Iterator[str]:
    """A memory:// root of this test's own, removed afterwards."""
    bucket = f"bucket-{uuid.uuid4().hex}"
    yield f"memory://{bucket}/prefix"
    fs = MemoryFileSystem()
    if fs.exists(f"/{bucket}"):
        fs.rm(f"/{bucket}", recursive=True)
    assert not [path for path in fs.store if path.startswith(f"/{bucket}")]


@pytest.fixture
def s3_backend(s3_root: str, s3_endpoint: str) -> ObjectStorageStateBackend:
    """The backend on S3 through s3fs, against the local moto server, in a bucket of its own."""
    return ObjectStorageStateBackend(root=s3_root, **storage_options(s3_endpoint))


@pytest.fixture(params=["file", "memory", "s3"])
def any_backend(request: pytest.FixtureRequest, tmp_path: Path) -> ObjectStorageStateBackend:
    """The backend on each kind of filesystem, under a root of its own."""
    if request.param == "file":
        return ObjectStorageStateBackend(root=(tmp_path / "objects").as_uri())
    if request.param == "memory":
        return ObjectStorageStateBackend(root=request.getfixturevalue("memory_root"))
    backend: ObjectStorageStateBackend = request.getfixturevalue("s3_backend")
    return backend


class TestContract(WorkerBackendContract):
    @pytest.fixture
    def backend(self, any_backend: ObjectStorageStateBackend) -> BaseStateBackend:
        return any_backend


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
    folder, name = ref.rsplit("/", 1)
    assert folder == f"{(tmp_path / 'objects').as_uri()}/task/ti-1/job%2Eid"
    assert re.fullmatch("[0-9a-f]{32}", name)  # a new object for every write
    assert (tmp_path / "objects" / "task" / "ti-1" / "job%2Eid" / name).read_text() == '"v"'
    again = backend.serialize_task_state_value(value='"w"', key="job.id", ti_id="ti-1")
    assert again != ref and backend.deserialize_task_state_value(ref) == '"v"'
    ref = backend.serialize_asset_state_value(value='"w"', key="k", asset_name="s3://lake/x")
    assert ref.rsplit("/", 1)[0].endswith("/asset/s3%3A%2F%2Flake%2Fx/k")


def test_references_of_the_earlier_layout_are_read_and_purged(tmp_path: Path) -> None:
    backend = ObjectStorageStateBackend(root=tmp_path.as_uri())
    (tmp_path / "task" / "ti").mkdir(parents=True)
    (tmp_path / "task" / "ti" / "k").write_text('"old"')
    ref = f"{tmp_path.as_uri()}/task/ti/k"
    assert backend.deserialize_task_state_value(ref) == '"old"'
    backend.purge_task_state(ref)
    assert not (tmp_path / "task" / "ti").exists()


def test_names_scope_tells_the_scope_and_key_a_reference_names(tmp_path: Path) -> None:
    backend = ObjectStorageStateBackend(root=tmp_path.as_uri())
    ref = backend.serialize_task_state_value(value='"v"', key="k", ti_id="ti-1")
    assert backend.names_scope(ref, kind="task", owner="ti-1", key="k")
    assert backend.names_scope(ref, kind="task", owner="ti-1")
    assert not backend.names_scope(ref, kind="task", owner="ti-2", key="k")
    assert not backend.names_scope(ref, kind="task", owner="ti-1", key="other")
    assert not backend.names_scope(ref, kind="asset", owner="ti-1", key="k")
    # Outside the layout: not judged here, refused when read or purged.
    assert backend.names_scope("file:///etc/passwd", kind="task", owner="ti-1", key="k")


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
        with pytest.raises(ReferenceResolutionError):
            backend.deserialize_task_state_value(ref)
        with pytest.raises(ReferenceResolutionError):
            backend.purge_task_state(ref)
        if "/asset/" not in ref:
            with pytest.raises(ReferenceResolutionError):
                backend.purge_asset_state(ref)
        assert outside.read_text() == '"secret"', ref
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


def test_a_file_root_refuses_s3_references(
    tmp_path: Path, s3_backend: ObjectStorageStateBackend
) -> None:
    s3 = s3_backend
    ref = s3.serialize_task_state_value(value='"on s3"', key="k", ti_id="ti")
    backend = ObjectStorageStateBackend(root=tmp_path.as_uri())
    for call in (
        backend.deserialize_task_state_value,
        backend.purge_task_state,
        backend.purge_object,
    ):
        with pytest.raises(ReferenceResolutionError, match="refusing"):
            call(ref)
    assert s3.deserialize_task_state_value(ref) == '"on s3"'
    assert list(tmp_path.iterdir()) == []


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
    assert list(backend.iter_objects()) == []  # the sweep never meets it either
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
    folder, name = ref.rsplit("/", 1)
    assert folder == f"{(tmp_path / 'home' / 'objects').resolve().as_uri()}/task/ti/k"
    assert (tmp_path / "home" / "objects" / "task" / "ti" / "k" / name).is_file()


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


def test_older_than_spares_new_objects(any_backend: ObjectStorageStateBackend) -> None:
    backend = any_backend
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


def test_older_than_must_be_timezone_aware(any_backend: ObjectStorageStateBackend) -> None:
    ref = any_backend.serialize_task_state_value(value='"v"', key="k", ti_id="t")
    naive = datetime.now() + timedelta(hours=1)
    with pytest.raises(ValueError, match="timezone-aware"):
        list(any_backend.iter_objects(older_than=naive))
    with pytest.raises(ValueError, match="timezone-aware"):
        any_backend.purge_object(ref, older_than=naive)
    assert any_backend.deserialize_task_state_value(ref) == '"v"'


def test_s3_listing_sees_other_writers_and_only_the_layout(s3_root: str, s3_endpoint: str) -> None:
    import s3fs  # type: ignore[import-untyped]

    options = storage_options(s3_endpoint)
    backend = ObjectStorageStateBackend(root=s3_root, **options)
    mine = backend.serialize_task_state_value(value='"a"', key="a", ti_id="t1")
    assert list(backend.iter_objects()) == [mine]
    # Another process writes into the folders this backend has just listed.
    other = s3fs.S3FileSystem(skip_instance_cache=True, **options)
    root = s3_root.removeprefix("s3://")
    other.pipe(f"{root}/task/t1/b", b'"b"')
    other.pipe(f"{root}/asset/orders/c", b'"c"')
    temporary = f"{root}/task/t1/b.{'0' * 32}.tmp"  # a temporary only on a local filesystem
    other.pipe(temporary, b'"half')
    other.pipe(f"{root}/notes.txt", b"not an object of the backend")
    assert sorted(backend.iter_objects()) == sorted(
        [mine, f"{s3_root}/task/t1/b", f"{s3_root}/asset/orders/c"]
    )
    with pytest.raises(ReferenceResolutionError, match="refusing"):
        backend.purge_object(f"s3://{temporary}")
    # The listing left no stale entry behind: a value rewritten elsewhere reads as rewritten.
    other.pipe(mine.removeprefix("s3://"), b'"a, set again"')
    assert backend.deserialize_task_state_value(mine) == '"a, set again"'
    assert other.cat(temporary) == b'"half'


class _FailsMidway(str):
    """A value whose write fails after its first chunk: the backend slices it chunk by chunk."""

    def __getitem__(self, index: SupportsIndex | slice) -> str:
        if isinstance(index, slice) and index.start:
            raise RuntimeError("the writer failed midway")
        return str.__getitem__(self, index)


def _s3_backend(root: str, endpoint: str, block_size: int | None) -> ObjectStorageStateBackend:
    options = storage_options(endpoint)
    if block_size is not None:
        options["default_block_size"] = block_size
    return ObjectStorageStateBackend(root=root, **options)


def _uploads_in_progress(backend: ObjectStorageStateBackend, root: str) -> list[object]:
    bucket = root.removeprefix("s3://").split("/")[0]
    fs = backend._fs
    return list(fs.call_s3("list_multipart_uploads", Bucket=bucket).get("Uploads", []))


@pytest.mark.parametrize("block_size", [None, 5 * 2**20], ids=["one-put", "multipart"])
def test_a_failed_s3_write_publishes_nothing(
    s3_root: str, s3_endpoint: str, block_size: int | None
) -> None:
    backend = _s3_backend(s3_root, s3_endpoint, block_size)
    ref = backend.serialize_task_state_value(value='"old"', key="k", ti_id="ti")
    value = _FailsMidway('"' + "x" * CHUNK_CHARS + '"')  # its first chunk fills a 5 MiB part
    with pytest.raises(BackendError, match="failed midway"):
        backend.serialize_task_state_value(value=value, key="k", ti_id="ti")
    assert backend.deserialize_task_state_value(ref) == '"old"'
    assert list(backend.iter_objects()) == [ref]
    assert _uploads_in_progress(backend, s3_root) == []  # the multipart upload was aborted


def test_a_failed_local_write_leaves_no_temporary(tmp_path: Path) -> None:
    backend = ObjectStorageStateBackend(root=tmp_path.as_uri())
    ref = backend.serialize_task_state_value(value='"old"', key="k", ti_id="ti")
    value = _FailsMidway('"' + "x" * CHUNK_CHARS + '"')
    with pytest.raises(BackendError, match="failed midway"):
        backend.serialize_task_state_value(value=value, key="k", ti_id="ti")
    assert backend.deserialize_task_state_value(ref) == '"old"'
    assert [p.name for p in (tmp_path / "task" / "ti").iterdir()] == ["k"]


_KILLED_WRITER = """
import json, sys, threading
from taskstate.backends.object_storage import CHUNK_CHARS, ObjectStorageStateBackend

class Stalls(str):
    def __getitem__(self, index):
        if isinstance(index, slice) and index.start:
            print("first part sent", flush=True)
            threading.Event().wait()
        return str.__getitem__(self, index)

backend = ObjectStorageStateBackend(root=sys.argv[1], **json.loads(sys.argv[2]))
backend.serialize_task_state_value(value=Stalls("x" * 2 * CHUNK_CHARS), key="k", ti_id="ti")
"""


def test_a_killed_s3_writer_leaves_the_previous_value(
    s3_root: str, s3_endpoint: str, s3_backend: ObjectStorageStateBackend
) -> None:
    # s3fs publishes an object whole on close: a writer killed after sending a part of a
    # multipart upload leaves only that upload, incomplete and invisible.
    backend = s3_backend
    ref = backend.serialize_task_state_value(value='"old"', key="k", ti_id="ti")
    options = {**storage_options(s3_endpoint), "default_block_size": 5 * 2**20}
    command = [sys.executable, "-c", _KILLED_WRITER, s3_root, json.dumps(options)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as writer:
        try:
            assert writer.stdout is not None
            if writer.stdout.readline() != b"first part sent\n":
                _, err = writer.communicate(timeout=10)
                pytest.fail(f"the writer did not start its upload: {err.decode()}")
            assert len(_uploads_in_progress(backend, s3_root)) == 1
            assert backend.deserialize_task_state_value(ref) == '"old"'
        finally:
            writer.kill()  # no-op if it has ended; leaving the block waits for it
    assert writer.returncode == -signal.SIGKILL
    assert backend.deserialize_task_state_value(ref) == '"old"'
    assert list(backend.iter_objects()) == [ref]


def test_large_value_round_trips_on_disk(tmp_path: Path) -> None:
    backend = ObjectStorageStateBackend(root=tmp_path.as_uri())
    value = json.dumps("é" * (20 * 1024 * 1024))  # over two write chunks, multi-byte
    ref = backend.serialize_task_state_value(value=value, key="big", ti_id="ti")
    assert backend.deserialize_task_state_value(ref) == value
    assert [p.name for p in (tmp_path / "task" / "ti").iterdir()] == ["big"]


def test_purging_the_last_object_removes_its_folder(tmp_path: Path) -> None:
    backend = ObjectStorageStateBackend(root=tmp_path.as_uri())
    first = backend.serialize_task_state_value(value='"a"', key="a", ti_id="ti")
    second = backend.serialize_task_state_value(value='"b"', key="b", ti_id="ti")
    backend.purge_task_state(first)
    assert (tmp_path / "task" / "ti").is_dir()  # still holds b
    assert not (tmp_path / "task" / "ti" / "a").exists()  # the key's folder went with a
    backend.purge_task_state(second)
    assert not (tmp_path / "task" / "ti").exists()
    # The folders come back with the next value.
    again = backend.serialize_task_state_value(value='"c"', key="a", ti_id="ti")
    assert backend.deserialize_task_state_value(again) == '"c"'
