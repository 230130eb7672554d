"""Secrets of a local installation, kept in ``$TASKSTATE_HOME`` with owner-only permissions.

When ``[api] secret_key`` or ``[api] api_keys`` are not configured, a standalone server (and
the CLI that talks to it) use keys generated once into ``$TASKSTATE_HOME/secret_key`` and
``$TASKSTATE_HOME/api_key`` (the folder 0700, the files 0600). Nothing else is needed to run on
one machine.

A server embedded in a command (``dags test``, ``state list`` without ``--api-url``) lives only
as long as that command, so it needs no key that outlives it: :func:`in_memory_keys` gives it
keys generated for the process, which are never written anywhere a task could read them.

The CLI takes an API key only from a file or the environment (:func:`client_api_key`), never
from its command line, which every local user can read in ``/proc/<pid>/cmdline``.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from pydantic import SecretStr

from taskstate.config import Settings
from taskstate.errors import ConfigError

__all__ = [
    "API_KEY_ENV",
    "MIN_SECRET_KEY_BYTES",
    "client_api_key",
    "in_memory_keys",
    "local_secret",
    "read_api_key_file",
    "server_api_keys",
    "server_secret_key",
]

SECRET_KEY_FILE = "secret_key"
API_KEY_FILE = "api_key"
API_KEY_ENV = "TASKSTATE_API_KEY"
"""The environment variable that may hold the CLI's API key."""


def local_secret(home: Path, name: str) -> str:
    """The secret in ``home/name``, generated (mode 0600) the first time it is asked for."""
    path = home / name
    try:
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            value = path.read_text().strip()
            if not value:
                raise ConfigError(
                    f"{path} is empty; delete it to have a new key generated"
                ) from None
            return value
        value = secrets.token_urlsafe(32)
        with os.fdopen(fd, "w") as file:
            file.write(value + "\n")
        return value
    except OSError as exc:
        raise ConfigError(f"cannot read or create {path}: {exc}") from exc


# HS256 keys shorter than the hash are guessable offline from one token (RFC 7518, 3.2).
MIN_SECRET_KEY_BYTES = 32


def server_secret_key(settings: Settings) -> str:
    """The key that signs task-instance tokens: ``[api] secret_key``, else the local one."""
    if settings.api.secret_key is None:
        return local_secret(settings.home, SECRET_KEY_FILE)
    secret = settings.api.secret_key.get_secret_value()
    size = len(secret.encode())
    if size < MIN_SECRET_KEY_BYTES:
        raise ConfigError(
            f"[api] secret_key is {size} bytes long; it signs task-instance tokens and must be "
            f"at least {MIN_SECRET_KEY_BYTES} bytes (generate one with "
            "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`), or unset it to "
            "use a generated key",
            detail={"setting": "[api] secret_key", "size": size, "minimum": MIN_SECRET_KEY_BYTES},
        )
    return secret


def server_api_keys(settings: Settings) -> list[str]:
    configured = [k.get_secret_value() for k in settings.api.api_keys]
    return configured or [local_secret(settings.home, API_KEY_FILE)]


def client_api_key(
    settings: Settings, key_file: Path | None = None, *, environ: Mapping[str, str] | None = None
) -> str:
    """The key the CLI sends to a server at ``--api-url``.

    From ``key_file`` (``--api-key-file`` or ``TASKSTATE_API_KEY_FILE``), else the
    ``TASKSTATE_API_KEY`` variable of ``environ``, else the first of ``[api] api_keys``, else
    the local key file of ``$TASKSTATE_HOME``.
    """
    if key_file is not None:
        return read_api_key_file(key_file)
    from_env = (environ or {}).get(API_KEY_ENV, "").strip()
    if from_env:
        return from_env
    if settings.api.api_keys:
        return settings.api.api_keys[0].get_secret_value()
    return local_secret(settings.home, API_KEY_FILE)


def read_api_key_file(path: Path) -> str:
    """The API key in the file at ``path`` (surrounding whitespace removed)."""
    try:
        key = path.read_text().strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"cannot read the API key file {str(path)!r}: {exc}", detail={"path": str(path)}
        ) from exc
    if not key:
        raise ConfigError(f"the API key file {str(path)!r} is empty", detail={"path": str(path)})
    return key


def in_memory_keys(settings: Settings) -> tuple[Settings, str]:
    """Settings for a server embedded in this process, and the API key to call it with.

    A signing key or API key that is not configured is generated for this process only: it
    lives in this process's memory (undumpable, see :mod:`taskstate.hardening`), so no task of
    the embedded server, whatever its user, can read it from a file or forge a token with it.
    """
    api = settings.api
    update: dict[str, object] = {}
    if api.secret_key is None:
        update["secret_key"] = SecretStr(secrets.token_urlsafe(32))
    if api.api_keys:
        key = api.api_keys[0].get_secret_value()
    else:
        key = secrets.token_urlsafe(32)
        update["api_keys"] = [SecretStr(key)]
    if not update:
        return settings, key
    return settings.model_copy(update={"api": api.model_copy(update=update)}), key
