"""The object-storage backend's options: its own (``root``) and its filesystem's, checked by
name before anything is opened, so a misspelled one is refused instead of ignored."""

from __future__ import annotations

from pathlib import Path

import pytest
from fsspec.implementations.local import LocalFileSystem  # type: ignore[import-untyped]

from taskstate.backends._fsspec import filesystem_options
from taskstate.backends.object_storage import ObjectStorageStateBackend
from taskstate.backends.registry import create_backend
from taskstate.errors import BackendOptionError

SETTING = "[workers] state_backend"


def test_a_misspelled_root_is_refused_with_the_name(tmp_path: Path) -> None:
    with pytest.raises(BackendOptionError, match="'rooot'; did you mean 'root'") as info:
        create_backend("object_storage", {"rooot": tmp_path.as_uri()}, setting=SETTING)
    assert info.value.detail["setting"] == "[workers] state_backend_kwargs"
    assert info.value.detail["suggestion"] == "root"
    assert not any(tmp_path.iterdir())


def test_a_misspelled_filesystem_option_is_refused() -> None:
    with pytest.raises(BackendOptionError, match="did you mean 'use_listings_cache'"):
        ObjectStorageStateBackend("memory://bucket/p", use_listing_cache=False)


def test_an_option_of_another_filesystem_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BackendOptionError, match="on file:// takes no option 'endpoint_url'"):
        ObjectStorageStateBackend(tmp_path.as_uri(), endpoint_url="http://127.0.0.1:9")


def test_s3_options_are_checked_against_s3fs() -> None:
    pytest.importorskip("s3fs")
    with pytest.raises(BackendOptionError, match="'endpoint'; did you mean 'endpoint_url'"):
        ObjectStorageStateBackend("s3://bucket/p", endpoint="http://127.0.0.1:9")
    backend = ObjectStorageStateBackend(
        "s3://bucket/p", endpoint_url="http://127.0.0.1:9", client_kwargs={}, anon=True
    )
    assert backend.root_url == "s3://bucket/p"


def test_options_a_filesystem_takes_are_accepted(tmp_path: Path) -> None:
    backend = ObjectStorageStateBackend(tmp_path.as_uri(), auto_mkdir=True, max_paths=10)
    assert backend.root_url == tmp_path.as_uri()


def test_filesystem_options_follow_the_constructor_chain() -> None:
    names = filesystem_options(LocalFileSystem)
    assert {"auto_mkdir", "use_listings_cache", "skip_instance_cache"} <= names
    assert "endpoint_url" not in names
