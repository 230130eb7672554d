"""The errors of a write a backend refused: another version, a try that may write no more, or a
purge between a writer's object and its reference."""

from __future__ import annotations

from typing import Any

from taskstate.errors import PurgePendingError, StaleTryError, VersionConflictError
from taskstate.state.types import TryFence

__all__ = ["purge_pending", "stale_try", "version_conflict"]


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


def purge_pending(
    key: str, ref: str, claimed: int, purged_through: int, restored_after: int | None
) -> PurgePendingError | None:
    """The refusal of a set of ``ref`` while ``claimed`` purges hold it, or after a purge
    numbered ``purged_through`` (None if neither stands in its way)."""
    if not claimed and purged_through <= (restored_after or 0):
        return None
    why = (
        "a purge holds the object it names"
        if claimed
        else "a purge removed the object it names after it may have been stored"
    )
    return PurgePendingError(
        f"key {key!r}: the reference was not written, {why}; store the object again and retry",
        detail={
            "key": key,
            "ref": ref[:200],
            "claimed": bool(claimed),
            "purged_through": purged_through,
        },
    )
