"""Client-side encryption of state values (``[workers] encryption_keys``).

A value is encrypted where it is made, in the task process (or the CLI), before it leaves:
AES-256-GCM with a random 96-bit nonce per value, through the ``cryptography`` library. What
travels and is stored is a JSON string holding ``base64(nonce || ciphertext || tag)``, so every
server backend, every size check and every worker backend keeps working unchanged, and the API
server, the database, Redis and object storage only ever hold ciphertext.

That the value is encrypted, and with which key, is said out of band: the key id travels in the
``encryption`` field beside the data (frames, HTTP bodies, ``StoredValue``, a column), never
inside the user's JSON. The associated data binds a ciphertext to its scope, its state key and
its key id, so a ciphertext copied to another key, scope or key id fails to decrypt.

Key names, expiry, the writer and whether a key is a reference stay in plain text.
"""

from __future__ import annotations

import base64
import binascii
import os
from collections.abc import Sequence

import msgspec
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from taskstate.config.encryption_keys import EncryptionKey
from taskstate.errors import DecryptionError, EncryptionKeyNotFoundError
from taskstate.state.types import AssetScope, StateScope, TaskScope

__all__ = ["NONCE_BYTES", "Keyring", "associated_data", "missing_keys_error"]

NONCE_BYTES = 12
"""96 bits, the nonce size GCM is built for."""
_AAD_VERSION = "taskstate-state-v1"


def associated_data(scope: StateScope, key: str, key_id: str) -> bytes:
    """What a ciphertext is bound to: its scope, its state key and the id of its key."""
    if isinstance(scope, TaskScope):
        owner: list[str | int] = [
            "task",
            scope.dag_id,
            scope.run_id,
            scope.task_id,
            scope.map_index,
        ]
    elif isinstance(scope, AssetScope):
        owner = ["asset", scope.name]
    else:
        raise TypeError(f"not a state scope: {scope!r}")
    return msgspec.json.encode([_AAD_VERSION, *owner, key, key_id])


class Keyring:
    """The configured keys: the first encrypts, every one decrypts."""

    def __init__(self, keys: Sequence[EncryptionKey]) -> None:
        if not keys:
            raise ValueError("a keyring needs at least one key")
        self._ciphers = {key.id: AESGCM(key.secret) for key in keys}
        self.primary = keys[0].id
        """The id of the key new values are encrypted with."""

    @classmethod
    def from_wire(cls, keys: Sequence[tuple[str, bytes]]) -> Keyring | None:
        """The keyring of the ``(id, key)`` pairs a start-up frame carries; None if empty."""
        return cls([EncryptionKey(i, k) for i, k in keys]) if keys else None

    @property
    def ids(self) -> list[str]:
        return list(self._ciphers)

    def encrypt(self, scope: StateScope, key: str, plaintext: bytes) -> tuple[str, str]:
        """``(key id, ciphertext text)`` of ``plaintext`` (a value's JSON text) for ``key``."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._ciphers[self.primary].encrypt(
            nonce, plaintext, associated_data(scope, key, self.primary)
        )
        return self.primary, base64.b64encode(nonce + sealed).decode("ascii")

    def decrypt(self, scope: StateScope, key: str, key_id: str, ciphertext: object) -> bytes:
        """The plaintext of ``ciphertext`` (the text :meth:`encrypt` made) stored for ``key``.

        Raises EncryptionKeyNotFoundError for a key id not configured here, DecryptionError for
        a ciphertext that fails authentication.
        """
        cipher = self._ciphers.get(key_id)
        detail = {"key": key, "key_id": key_id}
        if cipher is None:
            raise EncryptionKeyNotFoundError(
                f"key {key!r} of {scope} is encrypted with key id {key_id!r}, which "
                f"[workers] encryption_keys does not hold (configured: {', '.join(self.ids)})",
                detail=detail,
            )
        try:
            if not isinstance(ciphertext, str):
                raise ValueError("not a string")
            raw = base64.b64decode(ciphertext, validate=True)
            return cipher.decrypt(
                raw[:NONCE_BYTES], raw[NONCE_BYTES:], associated_data(scope, key, key_id)
            )
        except (InvalidTag, ValueError, binascii.Error):
            raise DecryptionError(
                f"key {key!r} of {scope}: the ciphertext does not authenticate with key id "
                f"{key_id!r} (tampered with, or written for another key or scope)",
                detail=detail,
            ) from None


def missing_keys_error(scope: StateScope, key: str, key_id: str) -> EncryptionKeyNotFoundError:
    """The error of reading an encrypted value where no keys are configured."""
    return EncryptionKeyNotFoundError(
        f"key {key!r} of {scope} is encrypted with key id {key_id!r}, but no "
        "[workers] encryption_keys are configured here",
        detail={"key": key, "key_id": key_id},
    )
