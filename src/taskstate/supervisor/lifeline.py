"""Tying processes to the life of their parent, and ending a try's processes for good.

Each try runs in a process group of its own: the runner starts its supervisor as the leader of
a new group, and the task process (and whatever it starts) joins that group. So:

* a terminal's Ctrl-C reaches the runner only, which then stops each try in order
  (:func:`stop_group`: SIGTERM, then SIGKILL after a grace);
* a task process dies with its supervisor: the kernel sends it SIGKILL when the supervisor dies,
  even of SIGKILL (``prctl(PR_SET_PDEATHSIG)``, set in the child before it runs Python, see
  :func:`die_with_parent`); a supervisor gets SIGTERM when its runner dies, so it reports its try;
* whatever the task started that outlived it is still in the try's group, and the runner ends
  the group (:func:`stop_group`) before it starts another try of the same task instance, so an
  earlier try never runs beside a later one.

Linux only (``PR_SET_PDEATHSIG``, ``/proc``); elsewhere the hook does nothing and groups are
probed with ``killpg(pgid, 0)``.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

__all__ = ["die_with_parent", "group_members", "stop_group"]

_PR_SET_PDEATHSIG = 1
_PROC = Path("/proc")
_POLL_SECONDS = 0.02


def _prctl() -> Callable[..., int] | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None
    return getattr(libc, "prctl", None)


def die_with_parent(sig: signal.Signals = signal.SIGKILL) -> Callable[[], None]:
    """A ``preexec_fn``: the child gets ``sig`` when the process that started it dies.

    Made before the fork, so the child only calls into libc. If the parent died between the
    fork and the ``prctl``, the signal would never come: the child then exits at once.
    """
    prctl = _prctl()
    parent = os.getpid()

    def hook() -> None:
        if prctl is None:
            return
        if prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) != 0:
            os._exit(126)
        if os.getppid() != parent:
            os._exit(126)

    return hook


def group_members(pgid: int) -> list[int]:
    """The live (not zombie) processes of the process group ``pgid``."""
    if not _PROC.is_dir():
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return []
        except PermissionError:
            pass
        return [pgid]
    members = []
    for entry in _PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # gone meanwhile
        # pid (comm) state ppid pgrp ...: comm may hold spaces and parentheses.
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] not in "ZX" and int(fields[2]) == pgid:
            members.append(int(entry.name))
    return members


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def _gone_within(pgid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while group_members(pgid):
        if time.monotonic() >= deadline:
            return False
        time.sleep(_POLL_SECONDS)
    return True


def stop_group(pgid: int, *, grace: float, term: bool = True) -> list[int]:
    """End every process of group ``pgid``: SIGTERM (unless not ``term``), SIGKILL after
    ``grace`` seconds, and wait until none is left. Return the pids that were alive."""
    alive = group_members(pgid)
    if not alive:
        return []
    if term:
        _signal_group(pgid, signal.SIGTERM)
        if _gone_within(pgid, grace):
            return alive
    while group_members(pgid):
        _signal_group(pgid, signal.SIGKILL)
        _gone_within(pgid, 1.0)
    return alive
