"""The worker-side state backend of a task process (``[workers] state_backend``)."""

from __future__ import annotations

from taskstate.backends.registry import create_backend
from taskstate.runtime.protocol import WorkerBackendSpec
from taskstate.state import BaseStateBackend

__all__ = ["WorkerBackend", "class_path", "load_worker_backend"]

SETTING = "[workers] state_backend"


def class_path(cls: type) -> str:
    """The dotted path a reference is marked with: the module and name of the class."""
    return f"{cls.__module__}.{cls.__qualname__}"


class WorkerBackend:
    """A loaded worker-side backend and the class path that marks the references it writes."""

    def __init__(self, backend: BaseStateBackend) -> None:
        self.backend = backend
        self.path = class_path(type(backend))

    def owns(self, ref_backend: str) -> bool:
        return ref_backend == self.path

    def purge(self, kind: str, stored: str) -> None:
        """Remove the object ``stored`` names, through the purge hook of ``kind`` (task/asset)."""
        if kind == "task":
            self.backend.purge_task_state(stored)
        else:
            self.backend.purge_asset_state(stored)


def load_worker_backend(spec: WorkerBackendSpec | None) -> WorkerBackend | None:
    """Instantiate the configured backend once; raises BackendImportError naming the setting."""
    if spec is None:
        return None
    return WorkerBackend(create_backend(spec.path, spec.kwargs, setting=SETTING))
