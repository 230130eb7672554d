"""References in the task process: bound to their scope, and written around purges.

**Bound to their scope.** A reference read from the database is untrusted: any task could have
written, into its own keys, the name of another scope's object. A worker backend that can tell
which scope a reference names (``names_scope(stored, kind=..., owner=..., key=...)``, as
:class:`~taskstate.backends.object_storage.ObjectStorageStateBackend` does) is asked before
every read and purge; a reference naming another scope raises
:class:`~taskstate.errors.ForeignReferenceError`, and its object is neither read nor removed.

**Written around purges.** A set stores its object, then writes the reference; a purge of the
same reference may finish in between (see :mod:`taskstate.api.purge`). :func:`write_ref` sends
with the newest purge this process saw finish *before* it stored the object, and when the server
answers :class:`~taskstate.errors.PurgePendingError`, stores the object again (waiting first while
a purge still holds it) and retries, naming the purges that answer reported.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from taskstate.errors import ForeignReferenceError, PurgePendingError
from taskstate.state.types import StateKind

__all__ = ["PURGE_WAIT_SECONDS", "PurgeMark", "check_bound", "write_ref"]

T = TypeVar("T")

PURGE_WAIT_SECONDS = 900.0
"""Longest a set waits for purges that hold its object before it gives up."""

_FIRST_PAUSE = 0.02
_LONGEST_PAUSE = 1.0


class PurgeMark:
    """The newest purge this process saw finish: its own purges, and those the server named."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._through = 0

    @property
    def through(self) -> int:
        return self._through

    def saw(self, purged_through: int) -> None:
        with self._lock:
            self._through = max(self._through, purged_through)


def check_bound(
    backend: Any, stored: str, *, kind: StateKind, owner: str, key: str | None, what: str
) -> None:
    """Raise ForeignReferenceError if ``backend`` can tell that ``stored`` names an object of
    another scope than ``kind``/``owner`` (and ``key``, when given)."""
    names_scope = getattr(backend, "names_scope", None)
    if names_scope is None or names_scope(stored, kind=kind, owner=owner, key=key):
        return
    where = f"key {key!r} of " if key is not None else ""
    raise ForeignReferenceError(
        f"{where}{what} holds reference {stored!r}, which names another scope's object; "
        "it is neither read nor purged",
        detail={"ref": stored[:200], "key": key, "kind": kind},
    )


def write_ref(
    store: Callable[[], str],
    send: Callable[[str, int], T],
    mark: PurgeMark,
    *,
    wait_seconds: float = PURGE_WAIT_SECONDS,
) -> tuple[str, T]:
    """Store the object and write its reference until no purge stands between them.

    ``store()`` stores the object and returns its reference; ``send(ref, restored_after)``
    writes the reference and returns the answer. Returns the reference and the answer.
    """
    deadline = time.monotonic() + wait_seconds
    pause = _FIRST_PAUSE
    restored_after = mark.through  # read before the object is stored: purges seen by then
    while True:
        ref = store()
        try:
            return ref, send(ref, restored_after)
        except PurgePendingError as exc:
            seen = int(exc.detail.get("purged_through") or 0)
            mark.saw(seen)
            restored_after = max(restored_after, seen)
            if time.monotonic() > deadline:
                raise
            if exc.detail.get("claimed"):
                time.sleep(pause)
                pause = min(pause * 2, _LONGEST_PAUSE)
