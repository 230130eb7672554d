"""How setting values are shown to people: as short text, with secrets masked.

``taskstate config show`` and error messages print values a user may paste into a ticket, so
anything that can hold a credential is masked here, in one place: ``SecretStr`` values, the
password of a database URL, and entries of a kwargs table whose name suggests a credential
(the way Airflow masks ``password`` or ``secret`` fields of a connection's extras).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from pydantic import SecretStr

__all__ = ["MASK", "NOT_SET", "display_value", "mask_url_password"]

MASK = "**********"
"""What a secret is shown as."""

NOT_SET = "(not set)"
"""What an unset optional setting is shown as."""

# Lower-cased fragments of a kwargs entry name that mark its value as a credential.
_SENSITIVE_NAME_PARTS = (
    "access_token",
    "api_key",
    "apikey",
    "auth",
    "credential",
    "passwd",
    "password",
    "private_key",
    "secret",
    "token",
)


def display_value(value: Any) -> str:
    """``value`` as one line of text for a person, with anything secret masked."""
    if value is None:
        return NOT_SET
    if isinstance(value, SecretStr):
        return MASK
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, Path | int | float):
        return str(value)
    return json.dumps(_masked(value), default=str, sort_keys=True)


def mask_url_password(url: str) -> str:
    """``url`` with the password of its user info, if any, replaced by the mask."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{user}:{MASK}@{host}"))


def _masked(value: Any) -> Any:
    """A JSON-ready copy of ``value`` with secrets and credential-like entries masked."""
    if isinstance(value, SecretStr):
        return MASK
    if isinstance(value, Mapping):
        return {
            str(name): MASK if _is_sensitive_name(str(name)) else _masked(item)
            for name, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [_masked(item) for item in value]
    return value


def _is_sensitive_name(name: str) -> bool:
    lowered = name.lower()
    return any(part in lowered for part in _SENSITIVE_NAME_PARTS)
