"""The worker-side state backend of a task process (``[workers] state_backend``).

:class:`WorkerBackend` is the one interface the accessors (and ``taskstate state purge``) call:
``store``, ``resolve`` and ``purge``. Behind it a backend implements either taskstate's six
hooks (:class:`~taskstate.state.BaseStateBackend`) or Apache Airflow 3.3.2's four
(:class:`~taskstate.state.BaseStoreBackend`, bridged by :mod:`taskstate.runtime.airflow_hooks`);
a class that implements both is refused when it is loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeAlias

from taskstate.backends.registry import create_backend
from taskstate.contracts.types import WorkerBackendSpec
from taskstate.errors import (
    BackendImportError,
    InvalidValueError,
    ReferenceResolutionError,
    TaskStateError,
)
from taskstate.runtime import airflow_hooks
from taskstate.runtime.json_text import json_text
from taskstate.runtime.references import PurgeMark, check_bound
from taskstate.state import BaseStateBackend
from taskstate.state.codec import decode_value, encode_value, validate_value
from taskstate.state.store_backend import (
    AIRFLOW_HOOKS,
    TASKSTATE_HOOKS,
    HookStyle,
    implemented_hooks,
)
from taskstate.state.types import AssetScope, JSONValue, StateKind, TaskScope

__all__ = [
    "Inline",
    "Owner",
    "TaskOwner",
    "WorkerBackend",
    "class_path",
    "load_worker_backend",
]

SETTING = "[workers] state_backend"


def class_path(cls: type) -> str:
    """The dotted path a reference is marked with: the module and name of the class."""
    return f"{cls.__module__}.{cls.__qualname__}"


@dataclass(frozen=True, slots=True)
class TaskOwner:
    """The task instance a task state value belongs to: taskstate's hooks are given its id,
    Airflow's its scope."""

    ti_id: str
    scope: TaskScope


Owner: TypeAlias = TaskOwner | AssetScope
"""Whose value a hook stores: a task instance, or an asset (by name)."""


@dataclass(frozen=True, slots=True)
class Inline:
    """A value the backend chose not to store: its JSON, to be stored in the database."""

    data: bytes


def _style(cls: type, path: str) -> HookStyle:
    ours = implemented_hooks(cls, TASKSTATE_HOOKS)
    theirs = implemented_hooks(cls, AIRFLOW_HOOKS)
    if ours and theirs:
        raise BackendImportError(
            f"{SETTING} = {path!r}: {cls.__name__} implements both taskstate's worker hooks "
            f"({', '.join(ours)}) and Apache Airflow's ({', '.join(theirs)}); implement one set. "
            "(A backend with Airflow's hooks has its objects removed through its "
            "delete(scope, key), so it needs no purge hooks.)",
            detail={"setting": SETTING, "path": path, "taskstate": ours, "airflow": theirs},
        )
    return "airflow" if theirs else "taskstate"


class WorkerBackend:
    """A loaded worker-side backend and the class path that marks the references it writes."""

    def __init__(self, backend: BaseStateBackend) -> None:
        self.backend = backend
        self.path = class_path(type(backend))
        self.style: HookStyle = _style(type(backend), self.path)
        """Which hooks it implements: ``taskstate`` (the seed's six) or ``airflow`` (3.3.2's)."""
        self.purges = PurgeMark()
        """The newest purge this process saw finish (see :mod:`taskstate.runtime.references`)."""
        self._serializes: frozenset[StateKind] = frozenset(
            kind
            for kind in ("task", "asset")
            if implemented_hooks(type(backend), (f"serialize_{kind}_state_store_to_ref",))
        )

    def owns(self, ref_backend: str) -> bool:
        return ref_backend == self.path

    # -- the interface the accessors call ------------------------------------------------------

    def store(self, owner: Owner, key: str, value: JSONValue) -> str | Inline:
        """Hand ``value`` to the backend: the reference it returned, or the value to keep inline.

        The hook's own exceptions propagate; an invalid value raises InvalidValueError first.
        """
        kind: StateKind = "task" if isinstance(owner, TaskOwner) else "asset"
        if self.style == "airflow":
            scope = owner.scope if isinstance(owner, TaskOwner) else owner
            if kind not in self._serializes:
                return Inline(encode_value(value, max_bytes=0))
            ref = airflow_hooks.store(self.backend, scope, key, validate_value(value))
            return Inline(encode_value(value, max_bytes=0)) if ref is None else ref
        text = json_text(value)
        if isinstance(owner, TaskOwner):
            ref = self.backend.serialize_task_state_value(value=text, key=key, ti_id=owner.ti_id)
        else:
            ref = self.backend.serialize_asset_state_value(
                value=text, key=key, asset_name=owner.name
            )
        if ref == text:  # a hook left at its no-op default: the value is stored inline
            return Inline(text.encode())
        return ref  # the caller checks that it is a valid reference

    def resolve(self, owner: Owner, key: str, stored: str, *, what: str) -> JSONValue:
        """The value the reference ``stored`` (of ``key``, in ``what``) names.

        Whatever goes wrong in the hook, the user's code, is a ReferenceResolutionError.
        """
        problem = f"{what} key {key!r}: worker backend {self.path!r} could not "
        problem += f"resolve reference {stored!r}: "
        detail = {"key": key, "ref": stored, "ref_backend": self.path}
        try:
            if self.style == "airflow":
                scope = owner.scope if isinstance(owner, TaskOwner) else owner
                result = airflow_hooks.resolve(self.backend, scope, stored)
            elif isinstance(owner, TaskOwner):
                result = self.backend.deserialize_task_state_value(stored)
            else:
                result = self.backend.deserialize_asset_state_value(stored)
        except TaskStateError:
            raise
        except Exception as exc:
            raise ReferenceResolutionError(
                f"{problem}{type(exc).__name__}: {exc}", detail=detail
            ) from exc
        if self.style == "airflow":
            return _checked_value(result, problem, detail)
        if not isinstance(result, str):
            raise ReferenceResolutionError(
                f"{problem}its deserialize hook returned {type(result).__name__}, not the "
                "value's JSON text",
                detail=detail,
            )
        head = result[:80]
        # The decoder reads UTF-8, which it would cache beside a non-ASCII str for as long as
        # the str lives; encoded here instead, the text is freed before the value is built.
        data: str | bytes = result if result.isascii() else result.encode()
        del result
        try:
            return decode_value(data)
        except InvalidValueError as exc:
            raise ReferenceResolutionError(
                f"{problem}its deserialize hook returned text that is not JSON (is the object "
                f"gone?): {head!r}",
                detail=detail,
            ) from exc

    def check_bound(
        self, stored: str, *, kind: StateKind, owner: str, key: str | None, what: str
    ) -> None:
        """Raise ForeignReferenceError if ``stored`` names another scope's object."""
        check_bound(self.backend, stored, kind=kind, owner=owner, key=key, what=what)

    def purge(self, kind: StateKind, stored: str) -> None:
        """Remove the object ``stored`` names (a reference of ``kind`` state); the hook's own
        exceptions propagate, for the caller to collect."""
        if self.style == "airflow":
            airflow_hooks.purge(self.backend, kind, stored)
        elif kind == "task":
            self.backend.purge_task_state(stored)
        else:
            self.backend.purge_asset_state(stored)


def _checked_value(value: object, problem: str, detail: dict[str, Any]) -> JSONValue:
    if value is None:
        raise ReferenceResolutionError(
            f"{problem}its deserialize hook returned None: the object is gone", detail=detail
        )
    try:
        return validate_value(value)
    except InvalidValueError as exc:
        raise ReferenceResolutionError(
            f"{problem}its deserialize hook returned a value that is not JSON: {exc}",
            detail=detail,
        ) from exc


def load_worker_backend(spec: WorkerBackendSpec | None) -> WorkerBackend | None:
    """Instantiate the configured backend once; raises BackendImportError naming the setting."""
    if spec is None:
        return None
    return WorkerBackend(create_backend(spec.path, spec.kwargs, setting=SETTING))
