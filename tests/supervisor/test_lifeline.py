"""Tying a task process to its supervisor, and ending a try's process group
(``taskstate.supervisor.lifeline``), with real processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from taskstate.supervisor.lifeline import group_members, stop_group

pytestmark = pytest.mark.skipif(not Path("/proc").is_dir(), reason="needs Linux's /proc")

# A parent that starts a child (``sleep``), with the hook or without, prints the child's pid,
# and waits to be killed.
PARENT = """
import subprocess, sys
from taskstate.supervisor.lifeline import die_with_parent
hook = die_with_parent() if sys.argv[1] == "hook" else None
child = subprocess.Popen(["sleep", "60"], preexec_fn=hook)
print(child.pid, flush=True)
sys.stdin.read()
"""

IGNORES_TERM = """
import signal, sys, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("ready", flush=True)
time.sleep(60)
"""


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"


def _gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while _alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def _child_of_killed_parent(mode: str) -> int:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, mode],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert parent.stdout is not None and parent.stdin is not None
    child = int(parent.stdout.readline())
    parent.kill()
    parent.wait()
    parent.stdout.close()
    parent.stdin.close()
    return child


def test_a_child_dies_with_its_parent_even_of_sigkill() -> None:
    child = _child_of_killed_parent("hook")
    assert _gone_within(child, 5.0)


def test_without_the_hook_the_child_would_live_on() -> None:
    child = _child_of_killed_parent("none")
    try:
        assert not _gone_within(child, 0.3)
    finally:
        os.kill(child, 9)


def test_a_group_is_ended_with_sigkill_when_sigterm_is_not_enough() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-c", IGNORES_TERM], stdout=subprocess.PIPE, text=True, process_group=0
    )
    assert proc.stdout is not None
    assert proc.stdout.readline() == "ready\n"
    assert group_members(proc.pid) == [proc.pid]
    started = time.monotonic()
    assert stop_group(proc.pid, grace=0.3) == [proc.pid]
    assert time.monotonic() - started >= 0.3  # it was given its grace
    assert group_members(proc.pid) == []
    assert proc.wait() == -9
    proc.stdout.close()


def test_a_group_that_ends_on_sigterm_gets_no_sigkill() -> None:
    proc = subprocess.Popen(["sleep", "60"], process_group=0)
    assert stop_group(proc.pid, grace=5.0) == [proc.pid]
    assert proc.wait() == -15


def test_every_process_of_the_group_is_ended_grandchildren_too() -> None:
    proc = subprocess.Popen(
        ["sh", "-c", "sleep 60 & echo $!; wait"], stdout=subprocess.PIPE, text=True, process_group=0
    )
    assert proc.stdout is not None
    grandchild = int(proc.stdout.readline())
    assert sorted(group_members(proc.pid)) == sorted([proc.pid, grandchild])
    stop_group(proc.pid, grace=5.0)
    proc.wait()
    proc.stdout.close()
    assert not _alive(grandchild)
    assert group_members(proc.pid) == []


def test_an_empty_group_is_left_alone() -> None:
    proc = subprocess.Popen(["true"], process_group=0)
    proc.wait()
    assert stop_group(proc.pid, grace=5.0) == []
