"""Tracebacks that start at the user's code.

When a task or a DAG file raises, the frames above the user's first one are taskstate's
machinery (the task process's entry point, the loader, the call of the task) and the standard
library's that it went through (``asyncio.run``, importlib); the frames below it that lie in
taskstate are its internals the user called into (an accessor validating a value). Neither
helps a user find their mistake, so both are left out, and the user's own line comes first.

When the exception never passed through a frame outside taskstate, it is taskstate's own
failure, not the user's: its traceback is kept whole, so that it can be reported and fixed.
"""

from __future__ import annotations

import asyncio
import os
import traceback
from pathlib import Path

__all__ = ["format_user_exception", "user_frames"]

_TASKSTATE = str(Path(__file__).resolve().parents[1]) + os.sep
# The standard library's machinery between taskstate and the user's first frame.
_ASYNCIO = str(Path(asyncio.__file__).resolve().parent) + os.sep
_FROZEN_IMPORTLIB = "<frozen importlib."


def _in_taskstate(frame: traceback.FrameSummary) -> bool:
    return os.path.abspath(frame.filename).startswith(_TASKSTATE)


def _is_machinery(frame: traceback.FrameSummary) -> bool:
    name = frame.filename
    return name.startswith(_FROZEN_IMPORTLIB) or os.path.abspath(name).startswith(_ASYNCIO)


def user_frames(
    stack: traceback.StackSummary, *, location_in_exception: bool = False
) -> traceback.StackSummary:
    """``stack`` from the user's first frame on, without taskstate's frames.

    ``location_in_exception``: the exception says where it happened itself (a SyntaxError), so
    a stack with no user frame is left empty rather than whole.
    """
    frames = list(stack)
    start = next(
        (i for i, f in enumerate(frames) if not _in_taskstate(f) and not _is_machinery(f)), None
    )
    if start is None:
        return traceback.StackSummary.from_list([] if location_in_exception else frames)
    kept = [f for f in frames[start:] if not _in_taskstate(f)]
    return traceback.StackSummary.from_list(kept)


def _trim(summary: traceback.TracebackException, exc: BaseException, seen: set[int]) -> None:
    """Trim ``summary`` of ``exc`` and the summaries chained to it, walking both together."""
    if id(summary) in seen:
        return
    seen.add(id(summary))
    summary.stack = user_frames(summary.stack, location_in_exception=isinstance(exc, SyntaxError))
    pairs = [(summary.__cause__, exc.__cause__), (summary.__context__, exc.__context__)]
    if isinstance(exc, BaseExceptionGroup):
        pairs += zip(summary.exceptions or (), exc.exceptions, strict=False)
    for linked, linked_exc in pairs:
        if linked is not None and linked_exc is not None:
            _trim(linked, linked_exc, seen)


def format_user_exception(exc: BaseException) -> str:
    """The traceback of ``exc`` (and of the exceptions chained to it) as Python prints it, with
    the user's frames first and taskstate's left out."""
    summary = traceback.TracebackException.from_exception(exc)
    _trim(summary, exc, set())
    return "".join(summary.format())
