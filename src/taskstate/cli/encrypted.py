"""What ``taskstate state`` does with encrypted values (``[workers] encryption_keys``).

Where the CLI is given the keys (its settings hold them), ``get`` and ``list`` decrypt the
entries the API returns and ``set`` encrypts before it sends; where it is not, an encrypted
value is shown as ``encrypted`` with its key id, never as its ciphertext passing for a value.
A reference is shown as such: the CLI resolves no worker-side objects.
"""

from __future__ import annotations

from typing import Any

from taskstate.config import Settings
from taskstate.errors import TaskStateError
from taskstate.runtime.encryption import Keyring, missing_keys_error
from taskstate.state.codec import decode_value, encode_value
from taskstate.state.types import AssetScope, StateScope, TaskScope

__all__ = ["describe_encrypted", "encrypt_for", "keyring_of", "reveal", "scope_of"]

Json = dict[str, Any]


def keyring_of(config: Settings) -> Keyring | None:
    """The keys the CLI's settings hold; None when there are none."""
    keys = config.workers.encryption_key_list()
    return Keyring(keys) if keys else None


def scope_of(entry: Json) -> StateScope:
    """The scope an entry of the public API belongs to, from its owner fields."""
    if "asset" in entry:
        return AssetScope(entry["asset"])
    return TaskScope(entry["dag_id"], entry["run_id"], entry["task_id"], entry["map_index"])


def reveal(entry: Json, keyring: Keyring | None, *, strict: bool) -> Json:
    """``entry`` with its value decrypted (``decrypted`` true) when it can be.

    Without keys, or (unless ``strict``) with keys that fail, the entry is returned as it came,
    with the reason in ``decrypt_error``; ``strict`` raises instead.
    """
    key_id = entry.get("encryption")
    if key_id is None or entry.get("ref") is not None:
        return entry
    scope = scope_of(entry)
    try:
        if keyring is None:
            raise missing_keys_error(scope, entry["key"], key_id)
        plain = keyring.decrypt(scope, entry["key"], key_id, entry["value"])
        return {**entry, "value": decode_value(plain), "decrypted": True}
    except TaskStateError as exc:
        if strict and keyring is not None:
            raise
        return {**entry, "decrypt_error": exc.code}


def describe_encrypted(entry: Json) -> str:
    """How a value that stays encrypted is shown."""
    return f"encrypted (key {entry['encryption']})"


def encrypt_for(keyring: Keyring, scope: StateScope, key: str, value: Any) -> tuple[str, str]:
    """``(key id, ciphertext)`` of ``value`` stored for ``key`` in ``scope``."""
    return keyring.encrypt(scope, key, encode_value(value, max_bytes=0))
