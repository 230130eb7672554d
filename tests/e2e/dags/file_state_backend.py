"""A worker-side state backend that keeps each value in a file under ``root``.

Unlike the seed's in-memory backend its objects outlive the task process, so a retry resolves
what an earlier try stored. A key named ``explode`` makes ``serialize`` fail, as a full disk
would.
"""

import hashlib
from pathlib import Path

from taskstate.state import BaseStateBackend


def object_path(root: str, namespace: str, key: str) -> Path:
    """Where the value of ``key`` in ``namespace`` (a ti_id or an asset name) is kept."""
    return Path(root) / hashlib.sha256(f"{namespace}/{key}".encode()).hexdigest()[:20]


class FileStateBackend(BaseStateBackend):
    def __init__(self, root: str) -> None:
        self.root = root

    def _store(self, namespace: str, key: str, value: str) -> str:
        if key == "explode":
            raise OSError("no space left on device (on purpose)")
        path = object_path(self.root, namespace, key)
        path.write_text(value)
        return f"file://{path}"

    def _load(self, stored: str) -> str:
        return Path(stored.removeprefix("file://")).read_text()

    def _purge(self, stored: str) -> None:
        Path(stored.removeprefix("file://")).unlink()
        print(f"[FileStateBackend] purged {stored}")

    def serialize_task_state_value(self, *, value: str, key: str, ti_id: str) -> str:
        return self._store(ti_id, key, value)

    def deserialize_task_state_value(self, stored: str) -> str:
        return self._load(stored)

    def serialize_asset_state_value(self, *, value: str, key: str, asset_name: str) -> str:
        return self._store(asset_name, key, value)

    def deserialize_asset_state_value(self, stored: str) -> str:
        return self._load(stored)

    def purge_task_state(self, stored: str) -> None:
        self._purge(stored)

    def purge_asset_state(self, stored: str) -> None:
        self._purge(stored)

    # A worker-side backend stores no rows itself.
    def get(self, scope, key, *, session=None):
        raise NotImplementedError

    def set(self, scope, key, value, *, session=None):
        raise NotImplementedError

    def delete(self, scope, key, *, session=None):
        raise NotImplementedError

    def clear(self, scope, *, all_map_indices=False, session=None):
        raise NotImplementedError

    async def aget(self, scope, key, *, session=None):
        raise NotImplementedError

    async def aset(self, scope, key, value, *, session=None):
        raise NotImplementedError

    async def adelete(self, scope, key, *, session=None):
        raise NotImplementedError

    async def aclear(self, scope, *, all_map_indices=False, session=None):
        raise NotImplementedError
