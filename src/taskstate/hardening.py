"""Keeping a task's hands off the secrets of the processes around it.

A task runs the user's code, and that code may be hostile. The processes around it hold what it
must not have: the runner and the embedded API server hold the signing key and the API key, each
supervisor holds its try's token. Three measures keep them out of the task's reach:

* :func:`make_undumpable` (Linux ``prctl(PR_SET_DUMPABLE, 0)``): a process of the same user can
  no longer attach to it with ``ptrace``, nor read ``/proc/<pid>/mem``, ``environ`` or ``fd``
  (the kernel makes them root's). The runner, the CLI commands that hold a key, every API server
  process and every supervisor call it first thing. A program started by ``exec`` is dumpable
  again, so the task process stays inspectable by its user, as any program of theirs is.
* :func:`without_secrets`: the environment a supervisor and a task process get, stripped of the
  variables that carry taskstate's keys and server settings.
* :class:`TaskUser` (``[workers] run_as_user``): a supervisor running as root starts the task
  process as another, unprivileged user, who cannot read ``$TASKSTATE_HOME`` (mode 0700: the
  SQLite file, the key files) nor touch a process of taskstate's user.
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from taskstate.errors import ConfigError

__all__ = [
    "SECRET_ENV_NAMES",
    "SECRET_ENV_PREFIXES",
    "TaskUser",
    "is_dumpable",
    "make_undumpable",
    "task_user",
    "without_secrets",
]

logger = logging.getLogger(__name__)

# <linux/prctl.h>
_PR_GET_DUMPABLE = 3
_PR_SET_DUMPABLE = 4

SECRET_ENV_PREFIXES = ("TASKSTATE__API__", "TASKSTATE__DATABASE__", "TASKSTATE__STATE_STORE__")
"""Settings of the API server, its database and its state backend (keys, URLs with passwords)."""
SECRET_ENV_NAMES = frozenset(
    {
        "TASKSTATE_API_KEY",
        "TASKSTATE_API_KEY_FILE",
        "TASKSTATE__WORKERS__ENCRYPTION_KEYS",
        "TASKSTATE__WORKERS__ENCRYPTION_KEYS_FILE",
    }
)
"""The CLI's API key and where to read it from; the encryption keys and their file (the task
process gets its keys in its start-up frame)."""

_SETTING = "[workers] run_as_user"


def _prctl(option: int, value: int = 0) -> int:
    libc = ctypes.CDLL(None, use_errno=True)
    result: int = libc.prctl(option, ctypes.c_ulong(value), 0, 0, 0)
    if result < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, os.strerror(errno))
    return result


def make_undumpable(role: str) -> bool:
    """Make this process undumpable, so that no process of the same user can read its memory.

    ``role`` names the process in the log line written where this cannot be done (a system
    other than Linux). Returns whether the flag is now off.
    """
    if not sys.platform.startswith("linux"):
        logger.info(
            "the %s cannot make itself undumpable on %s: processes of the same user can read "
            "its memory",
            role,
            sys.platform,
        )
        return False
    try:
        _prctl(_PR_SET_DUMPABLE, 0)
    except OSError as exc:
        logger.warning("the %s cannot make itself undumpable: %s", role, exc)
        return False
    return True


def is_dumpable() -> bool:
    """Whether this process is dumpable (always True where the flag does not exist)."""
    if not sys.platform.startswith("linux"):
        return True
    return _prctl(_PR_GET_DUMPABLE) == 1


def without_secrets(environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` without the variables that carry taskstate's keys and server settings."""
    return {
        name: value
        for name, value in environ.items()
        if name.upper() not in SECRET_ENV_NAMES and not name.upper().startswith(SECRET_ENV_PREFIXES)
    }


@dataclass(frozen=True)
class TaskUser:
    """The user a supervisor starts its task process as (``[workers] run_as_user``)."""

    name: str
    uid: int
    gid: int
    groups: tuple[int, ...]
    home: str

    def popen_options(self) -> dict[str, Any]:
        """``subprocess.Popen`` arguments that start the child as this user.

        The child drops to the user between fork and exec; a ``preexec_fn`` runs after that,
        so what it sets (a parent-death signal) is not reset by the change of user.
        """
        return {"user": self.uid, "group": self.gid, "extra_groups": list(self.groups)}

    def environment(self, environ: Mapping[str, str]) -> dict[str, str]:
        """``environ`` with the variables that name the user set to this one."""
        return {**environ, "HOME": self.home, "USER": self.name, "LOGNAME": self.name}


def task_user(name: str | None) -> TaskUser | None:
    """The ``[workers] run_as_user`` named ``name``; None when unset.

    Raises ConfigError for a user that does not exist, for root, and when this process does
    not run as root (only root can start a process as another user).
    """
    if not name:
        return None
    import pwd  # POSIX only, like setuid itself

    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise ConfigError(
            f"{_SETTING} names {name!r}, which is not a user on this machine",
            detail={"setting": _SETTING, "user": name},
        ) from None
    if entry.pw_uid == 0:
        raise ConfigError(
            f"{_SETTING} names {name!r}, a user with uid 0: a task running as root can read "
            "every key; name an unprivileged user",
            detail={"setting": _SETTING, "user": name},
        )
    euid = os.geteuid()
    if euid != 0:
        raise ConfigError(
            f"{_SETTING} is {name!r}, but taskstate runs as uid {euid}, not root: only root can "
            "start a task process as another user; run `taskstate dags test` as root, or unset "
            f"{_SETTING}",
            detail={"setting": _SETTING, "user": name, "euid": euid},
        )
    groups = tuple(os.getgrouplist(name, entry.pw_gid))
    return TaskUser(name, entry.pw_uid, entry.pw_gid, groups, entry.pw_dir)
