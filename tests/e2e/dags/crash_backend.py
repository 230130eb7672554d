"""An ``ObjectStorageStateBackend`` that kills its own task process at a named point.

Configured as ``[workers] state_backend = "crash_backend.CrashingBackend"`` with
``state_backend_kwargs = {"root": ..., "crash_at": POINT}``; ``crash_at`` is this class's own
option and never reaches the filesystem. Without it the backend is its parent, which is how
``taskstate state purge`` and reader DAGs load it. Nothing crashes until the task calls
:func:`arm`, so the keys stored before the step under test complete. The points:

* ``mid_write``: part of the value's bytes are in the temporary beside the object;
* ``stored``: the object is stored, its reference not yet sent;
* ``before_purge``: the reference rows are removed, no object purged yet;
* ``after_purge``: the first object is purged;
* ``second_purge``: one object is purged, the next is not.

Each crash prints ``[CrashingBackend] SIGKILL at POINT`` first, so a test can tell where the
process died.
"""

import os
import signal
import threading
from typing import Any

from taskstate.backends.object_storage import ObjectStorageStateBackend

POINTS = ("mid_write", "stored", "before_purge", "after_purge", "second_purge")

_armed = threading.Event()


def arm() -> None:
    """Let the configured crash happen from now on in this process."""
    _armed.set()


class CrashingBackend(ObjectStorageStateBackend):
    def __init__(
        self, root: str | None = None, crash_at: str | None = None, **storage_options: Any
    ) -> None:
        if crash_at is not None and crash_at not in POINTS:
            raise ValueError(f"crash_at must be one of {POINTS}, not {crash_at!r}")
        super().__init__(root, **storage_options)
        self.crash_at = crash_at
        self._purges_begun = 0

    def _crash(self, point: str) -> None:
        if self.crash_at == point and _armed.is_set():
            print(f"[CrashingBackend] SIGKILL at {point}", flush=True)
            os.kill(os.getpid(), signal.SIGKILL)

    # -- set -------------------------------------------------------------------------------

    def _write(self, path: str, value: str) -> None:
        if self.crash_at == "mid_write" and _armed.is_set():
            data = value.encode()
            with self._fs.open(path, "wb") as f:
                f.write(data[: len(data) // 2])
                f.flush()
                self._crash("mid_write")
        super()._write(path, value)

    def serialize_task_state_value(self, *, value: str, key: str, ti_id: str) -> str:
        ref = super().serialize_task_state_value(value=value, key=key, ti_id=ti_id)
        self._crash("stored")
        return ref

    def serialize_asset_state_value(self, *, value: str, key: str, asset_name: str) -> str:
        ref = super().serialize_asset_state_value(value=value, key=key, asset_name=asset_name)
        self._crash("stored")
        return ref

    # -- delete and clear: the rows are gone by the time a purge hook runs ------------------

    def _begin_purge(self) -> None:
        self._purges_begun += 1
        self._crash("before_purge")
        if self._purges_begun == 2:
            self._crash("second_purge")

    def purge_task_state(self, stored: str) -> None:
        self._begin_purge()
        super().purge_task_state(stored)
        self._crash("after_purge")

    def purge_asset_state(self, stored: str) -> None:
        self._begin_purge()
        super().purge_asset_state(stored)
        self._crash("after_purge")
