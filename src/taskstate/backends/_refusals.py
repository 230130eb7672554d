"""The errors of a write a backend refused: another version, or a try that may write no more."""

from __future__ import annotations

from typing import Any

from taskstate.errors import StaleTryError, VersionConflictError
from taskstate.state.types import TryFence

__all__ = ["stale_try", "version_conflict"]


def version_conflict(key: str, wanted: int, current: int | None) -> VersionConflictError:
    """The key ``key`` is at ``current`` (None or 0: it does not exist), not at ``wanted``."""
    found = current or 0
    state = "does not exist" if found == 0 else f"is at version {found}"
    wants = "not to exist" if wanted == 0 else f"to be at version {wanted}"
    return VersionConflictError(
        f"key {key!r} {state}; the write expected it {wants}",
        detail={"key": key, "if_version": wanted, "current_version": found},
    )


def stale_try(fence: TryFence, why: str, current: Any = None) -> StaleTryError:
    """The try of ``fence`` can change nothing, because ``why``."""
    return StaleTryError(
        f"try {fence.try_number} of task instance {fence.ti_id} can change nothing: {why}",
        detail={"ti_id": fence.ti_id, "token_try_number": fence.try_number, "current": current},
    )
