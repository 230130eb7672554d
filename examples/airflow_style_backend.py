"""A worker-side state backend written against Apache Airflow 3.3.2's hooks: each value is a
JSON file under ``root``, and the database keeps only its path.

Under Airflow it would import ``AssetScope, BaseStoreBackend, TaskScope`` from
``airflow.sdk.state``; only that import line differs here. Configure it with::

    TASKSTATE__WORKERS__STATE_BACKEND=airflow_style_backend.FileStoreBackend
    TASKSTATE__WORKERS__STATE_BACKEND_KWARGS='{"root": "/var/lib/task-state"}'

A path is a function of scope and key alone, so ``delete(scope, key)`` finds the object that
a reference names: taskstate calls it for every reference a delete, a clear or
``taskstate state purge`` removes.
"""

import asyncio
import hashlib
import json
from pathlib import Path
from urllib.parse import quote

from taskstate.sdk import AssetScope, BaseStoreBackend, TaskScope


def _segment(name: str) -> str:
    """``name`` as one safe file name: never ``.``/``..``, no separator, unique, not too long."""
    encoded = quote(name, safe="").replace(".", "%2E").replace("~", "%7E") or "%"
    if len(encoded) > 200:  # keep a readable prefix; the hash keeps it unique
        digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()
        encoded = f"{encoded[:130]}~{digest}"
    return encoded


class FileStoreBackend(BaseStoreBackend):
    """Values as files under ``root``; a value whose JSON is under ``inline_below`` bytes stays
    in the database instead (serialize returns None: taskstate keeps it inline)."""

    def __init__(self, root: str, inline_below: int = 0) -> None:
        self.root = Path(root).resolve()
        self.inline_below = inline_below

    def _folder(self, scope: TaskScope | AssetScope) -> Path:
        if isinstance(scope, TaskScope):
            parts = ["task", scope.dag_id, scope.run_id, scope.task_id, str(scope.map_index)]
        else:
            parts = ["asset", scope.name or scope.uri]
        return self.root.joinpath(*map(_segment, parts))

    def _store(self, scope: TaskScope | AssetScope, key: str, value: object) -> str | None:
        text = json.dumps(value)
        if len(text.encode()) < self.inline_below:
            return None
        path = self._folder(scope) / _segment(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return str(path)

    def _load(self, stored: str) -> object:
        path = Path(stored).resolve()
        if not path.is_relative_to(self.root):
            raise ValueError(f"{stored!r} is not under {str(self.root)!r}")
        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            return None  # the object is gone

    def serialize_task_state_store_to_ref(self, *, value, key, scope):
        return self._store(scope, key, value)

    def deserialize_task_state_store_from_ref(self, stored):
        return self._load(stored)

    def serialize_asset_state_store_to_ref(self, *, value, key, scope):
        return self._store(scope, key, value)

    def deserialize_asset_state_store_from_ref(self, stored):
        return self._load(stored)

    # Removing objects: taskstate calls delete(); Airflow calls delete() and clear().

    def delete(self, scope, key, *, session=None):
        (self._folder(scope) / _segment(key)).unlink(missing_ok=True)

    def clear(self, scope, *, all_map_indices=False, session=None):
        folder = self._folder(scope)
        every_index = all_map_indices and isinstance(scope, TaskScope)
        for path in folder.parent.glob("*/*") if every_index else folder.glob("*"):
            path.unlink(missing_ok=True)

    async def adelete(self, scope, key, *, session=None):
        await asyncio.to_thread(self.delete, scope, key)

    async def aclear(self, scope, *, all_map_indices=False, session=None):
        await asyncio.to_thread(self.clear, scope, all_map_indices=all_map_indices)

    # The database keeps the references: nothing to read or write here.

    def get(self, scope, key, *, session=None):
        raise NotImplementedError("a worker-side backend")

    def set(self, scope, key, value, *, expires_at=None, session=None):
        raise NotImplementedError("a worker-side backend")

    async def aget(self, scope, key, *, session=None):
        raise NotImplementedError("a worker-side backend")

    async def aset(self, scope, key, value, *, expires_at=None, session=None):
        raise NotImplementedError("a worker-side backend")
