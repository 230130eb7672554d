"""Secrets of a local installation, kept in ``$TASKSTATE_HOME`` with owner-only permissions.

When ``[api] secret_key`` or ``[api] api_keys`` are not configured, the server (and the CLI
that talks to it) use keys generated once into ``$TASKSTATE_HOME/secret_key`` and
``$TASKSTATE_HOME/api_key``. Nothing else is needed to run on one machine.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from taskstate.config import Settings
from taskstate.errors import ConfigError

__all__ = [
    "MIN_SECRET_KEY_BYTES",
    "client_api_key",
    "local_secret",
    "server_api_keys",
    "server_secret_key",
]

SECRET_KEY_FILE = "secret_key"
API_KEY_FILE = "api_key"


def local_secret(home: Path, name: str) -> str:
    """The secret in ``home/name``, generated (mode 0600) the first time it is asked for."""
    path = home / name
    try:
        home.mkdir(parents=True, exist_ok=True)
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


def client_api_key(settings: Settings, explicit: str | None = None) -> str:
    """The key the CLI sends: ``--api-key``, else the first configured one, else the local one."""
    if explicit:
        return explicit
    if settings.api.api_keys:
        return settings.api.api_keys[0].get_secret_value()
    return local_secret(settings.home, API_KEY_FILE)
