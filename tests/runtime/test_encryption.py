"""Client-side encryption: the keyring alone, then through the accessors over a real socket."""

from __future__ import annotations

import base64
import json
import os

import pytest

from taskstate.config.encryption_keys import EncryptionKey
from taskstate.errors import DecryptionError, EncryptionKeyNotFoundError
from taskstate.runtime.accessors import AssetState, TaskState
from taskstate.runtime.encryption import NONCE_BYTES, Keyring
from taskstate.runtime.worker_backend import WorkerBackend
from taskstate.sdk import Asset
from taskstate.state import AssetScope, TaskScope

from .test_accessors import DictBackend

SCOPE = TaskScope("d", "r", "t")
OTHER = TaskScope("d", "r", "t", map_index=0)
OLD = EncryptionKey("old", os.urandom(32))
NEW = EncryptionKey("new", os.urandom(32))
VALUE = {"secret": "hunter2", "n": [1, 2.5, True]}


def _text(value: object) -> bytes:
    return json.dumps(value).encode()


def test_round_trip_and_a_fresh_nonce_per_value() -> None:
    ring = Keyring([NEW])
    key_id, first = ring.encrypt(SCOPE, "k", _text(VALUE))
    _, second = ring.encrypt(SCOPE, "k", _text(VALUE))
    assert key_id == "new"
    assert first != second  # a random nonce each time
    assert b"hunter2" not in base64.b64decode(first)
    assert len(base64.b64decode(first)) == NONCE_BYTES + len(_text(VALUE)) + 16
    assert json.loads(ring.decrypt(SCOPE, "k", key_id, first)) == VALUE


def test_rotation_old_key_decrypts_new_writes_use_the_first() -> None:
    _, written_before = Keyring([OLD]).encrypt(SCOPE, "k", b'"v"')
    rotated = Keyring([NEW, OLD])
    assert rotated.decrypt(SCOPE, "k", "old", written_before) == b'"v"'
    key_id, written_after = rotated.encrypt(SCOPE, "k", b'"v"')
    assert key_id == "new"
    assert Keyring([NEW]).decrypt(SCOPE, "k", "new", written_after) == b'"v"'


def test_a_tampered_ciphertext_fails() -> None:
    ring = Keyring([NEW])
    key_id, text = ring.encrypt(SCOPE, "k", b'"v"')
    raw = bytearray(base64.b64decode(text))
    raw[-1] ^= 1
    for bad in (base64.b64encode(bytes(raw)).decode(), "not base64!", "", 42):
        with pytest.raises(DecryptionError) as info:
            ring.decrypt(SCOPE, "k", key_id, bad)
        assert info.value.detail == {"key": "k", "key_id": "new"}


def test_a_ciphertext_moved_to_another_scope_key_or_key_id_fails() -> None:
    same_secret = Keyring([NEW, EncryptionKey("alias", NEW.secret)])
    key_id, text = same_secret.encrypt(SCOPE, "k", b'"v"')
    for scope, key, kid in (
        (OTHER, "k", key_id),
        (AssetScope("d"), "k", key_id),
        (SCOPE, "other", key_id),
        (SCOPE, "k", "alias"),  # the same bytes under another id: still refused
    ):
        with pytest.raises(DecryptionError):
            same_secret.decrypt(scope, key, kid, text)


def test_an_unknown_key_id_is_its_own_error() -> None:
    _, text = Keyring([OLD]).encrypt(SCOPE, "k", b'"v"')
    with pytest.raises(EncryptionKeyNotFoundError, match="'old'") as info:
        Keyring([NEW]).decrypt(SCOPE, "k", "old", text)
    assert info.value.detail["key_id"] == "old"


def test_the_accessor_sends_only_ciphertext_and_reads_it_back(served) -> None:  # type: ignore[no-untyped-def]
    comms, server = served
    ts = TaskState(comms, None, 1000, ti_id="ti-1", scope=SCOPE, keyring=Keyring([NEW]))
    ts.set("k", VALUE)
    data, ref = server.store[("ti", "k")]
    assert ref is None and server.key_ids[("ti", "k")] == "new"
    assert b"hunter2" not in data and isinstance(json.loads(data), str)
    assert ts.get("k") == VALUE
    # A reader without keys is told, with the key id; one with other keys too.
    with pytest.raises(EncryptionKeyNotFoundError, match="no \\[workers\\] encryption_keys"):
        TaskState(comms, None, 1000, ti_id="ti-1", scope=SCOPE).get("k")
    with pytest.raises(EncryptionKeyNotFoundError):
        TaskState(comms, None, 1000, ti_id="ti-1", scope=SCOPE, keyring=Keyring([OLD])).get("k")
    # Plain values written before keys were configured still read.
    TaskState(comms, None, 1000, ti_id="ti-1", scope=SCOPE).set("plain", 5)
    assert ts.get("plain") == 5


def test_the_worker_backend_is_handed_ciphertext(served) -> None:  # type: ignore[no-untyped-def]
    comms, server = served
    backend = DictBackend()
    ring = Keyring([NEW])
    ts = TaskState(comms, WorkerBackend(backend), 1000, ti_id="ti-1", scope=SCOPE, keyring=ring)
    ts.set("k", VALUE)
    (stored,) = backend.objects.values()
    assert "hunter2" not in stored and isinstance(json.loads(stored), str)
    assert server.store[("ti", "k")][1] is not None  # a reference, marked encrypted
    assert server.key_ids[("ti", "k")] == "new"
    assert ts.get("k") == VALUE
    ts.delete("k")
    assert backend.objects == {}


def test_asset_state_binds_the_asset(served) -> None:  # type: ignore[no-untyped-def]
    comms, server = served
    ring = Keyring([NEW])
    orders = AssetState(comms, None, 1000, asset=Asset("orders"), keyring=ring)
    orders.set("watermark", "2026-01-01")
    assert orders.get("watermark") == "2026-01-01"
    # The ciphertext copied into another asset's state does not decrypt there.
    server.store[("asset:other", "watermark")] = server.store[("asset:orders", "watermark")]
    server.key_ids[("asset:other", "watermark")] = "new"
    other = AssetState(comms, None, 1000, asset=Asset("other"), keyring=ring)
    with pytest.raises(DecryptionError):
        other.get("watermark")
