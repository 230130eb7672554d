"""``[workers] encryption_keys`` and ``encryption_keys_file``: the keys of client-side encryption.

A key is an id and 32 random bytes (AES-256), written ``id:base64key``. The setting takes a list
of such entries, or a table ``{id = "base64key"}``; the file, which must be readable by its
owner alone (mode 0600), one entry a line (blank lines and ``#`` comments skipped), so that no
key need sit in ``taskstate.toml``. The keys of the setting come first, then the file's: the
first of all encrypts new values, every one decrypts (rotation: put the new key first and keep
the old ones until nothing is encrypted with them).

The id is written beside each ciphertext, so it is checked to be a short plain name; a key never
appears in an error message.
"""

from __future__ import annotations

import base64
import binascii
import re
import stat
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from taskstate.errors import InvalidEncryptionKeyError

__all__ = [
    "FILE_SETTING",
    "KEY_BYTES",
    "KEY_ID_PATTERN",
    "SETTING",
    "EncryptionKey",
    "load_encryption_keys",
    "parse_key_entries",
    "read_keys_file",
]

SETTING = "[workers] encryption_keys"
FILE_SETTING = "[workers] encryption_keys_file"
KEY_BYTES = 32
"""AES-256."""
KEY_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
"""What a key id may be: it is stored beside every value it encrypts."""


@dataclass(frozen=True, slots=True)
class EncryptionKey:
    """One key: its ``id`` (stored with each value) and its 32 bytes (never shown)."""

    id: str
    secret: bytes = field(repr=False)

    def to_entry(self) -> str:
        """``id:base64key``, as the settings and the keys file write it."""
        return f"{self.id}:{base64.b64encode(self.secret).decode()}"


def _decode_key(key_id: str, text: str, where: str) -> bytes:
    try:
        secret = base64.b64decode(text.strip().replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidEncryptionKeyError(
            f"{where}: key {key_id!r} is not base64 text; make one with "
            '`python -c "import os, base64; print(base64.b64encode(os.urandom(32)).decode())"`',
            detail={"setting": where, "key_id": key_id},
        ) from None
    if len(secret) != KEY_BYTES:
        raise InvalidEncryptionKeyError(
            f"{where}: key {key_id!r} is {len(secret)} bytes; AES-256 needs {KEY_BYTES} "
            "(44 characters of base64)",
            detail={"setting": where, "key_id": key_id},
        )
    return secret


def _key(key_id: str, text: object, where: str) -> EncryptionKey:
    if not KEY_ID_PATTERN.fullmatch(key_id):
        shown = key_id if len(key_id) <= 64 else f"{key_id[:64]}..."
        raise InvalidEncryptionKeyError(
            f"{where}: key id {shown!r} must be 1 to 64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit",
            detail={"setting": where},
        )
    if not isinstance(text, str):
        raise InvalidEncryptionKeyError(
            f"{where}: key {key_id!r} must be base64 text, not {type(text).__name__}",
            detail={"setting": where, "key_id": key_id},
        )
    return EncryptionKey(key_id, _decode_key(key_id, text, where))


def _split(entry: object, where: str) -> tuple[str, str]:
    text = entry if isinstance(entry, str) else None
    if text is None or ":" not in text:
        raise InvalidEncryptionKeyError(
            f"{where}: each entry must be 'id:base64key'"
            + ("" if text is None else " (no ':' found)"),
            detail={"setting": where},
        )
    key_id, _, key = text.partition(":")
    return key_id.strip(), key


def parse_key_entries(value: object, *, where: str = SETTING) -> list[EncryptionKey]:
    """The keys ``value`` holds: a list of ``id:base64key`` texts, or a table id -> key."""
    if isinstance(value, Mapping):
        return [_key(str(key_id), text, where) for key_id, text in value.items()]
    if isinstance(value, str) or not isinstance(value, Iterable):
        raise InvalidEncryptionKeyError(
            f"{where}: expected a list of 'id:base64key' entries or a table of id = key",
            detail={"setting": where},
        )
    return [_key(*_split(entry, where), where) for entry in value]


def read_keys_file(path: Path) -> list[EncryptionKey]:
    """The keys of the file at ``path``, which its owner alone may read or write."""
    where = f"{FILE_SETTING} = {str(path)!r}"
    try:
        mode = path.stat().st_mode
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidEncryptionKeyError(
            f"{where}: cannot read the keys file: {exc}", detail={"setting": FILE_SETTING}
        ) from exc
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise InvalidEncryptionKeyError(
            f"{where}: the keys file has mode {stat.S_IMODE(mode):04o}, so others than its "
            f"owner may read it; run `chmod 600 {path}`",
            detail={"setting": FILE_SETTING, "mode": f"{stat.S_IMODE(mode):04o}"},
        )
    lines = (line.strip() for line in text.splitlines())
    return parse_key_entries(
        [line for line in lines if line and not line.startswith("#")], where=where
    )


def load_encryption_keys(
    entries: Sequence[str] | Mapping[str, str], keys_file: Path | None
) -> list[EncryptionKey]:
    """Every configured key, the one that encrypts first; ids must be unique."""
    keys = parse_key_entries(entries)
    if keys_file is not None:
        keys += read_keys_file(keys_file)
    seen: set[str] = set()
    for key in keys:
        if key.id in seen:
            raise InvalidEncryptionKeyError(
                f"{SETTING}: key id {key.id!r} is given twice; every key needs its own id",
                detail={"setting": SETTING, "key_id": key.id},
            )
        seen.add(key.id)
    return keys
