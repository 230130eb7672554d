"""[workers] encryption_keys and encryption_keys_file: checked when the settings are loaded."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest

from taskstate.config import load_settings
from taskstate.config.encryption_keys import EncryptionKey, parse_key_entries
from taskstate.errors import InvalidEncryptionKeyError

KEY = base64.b64encode(os.urandom(32)).decode()
OTHER = base64.b64encode(os.urandom(32)).decode()


def _load(tmp_path: Path, **workers: str) -> list[EncryptionKey]:
    env = {f"TASKSTATE__WORKERS__{k.upper()}": v for k, v in workers.items()}
    settings = load_settings(env={"TASKSTATE_HOME": str(tmp_path), **env})
    return settings.workers.encryption_key_list()


def test_a_list_or_a_table_the_first_encrypts(tmp_path: Path) -> None:
    listed = _load(tmp_path, encryption_keys=json.dumps([f"b:{OTHER}", f"a:{KEY}"]))
    assert [k.id for k in listed] == ["b", "a"]
    assert listed[1].secret == base64.b64decode(KEY)
    tabled = _load(tmp_path, encryption_keys=json.dumps({"a": KEY, "b": OTHER}))
    assert [k.id for k in tabled] == ["a", "b"]
    assert _load(tmp_path) == []


def test_the_toml_file_takes_a_table(tmp_path: Path) -> None:
    (tmp_path / "taskstate.toml").write_text(f'[workers.encryption_keys]\nk1 = "{KEY}"\n')
    assert [k.id for k in _load(tmp_path)] == ["k1"]


def test_keys_never_show(tmp_path: Path) -> None:
    settings = load_settings(
        env={"TASKSTATE_HOME": str(tmp_path), "TASKSTATE__WORKERS__ENCRYPTION_KEYS": f'["a:{KEY}"]'}
    )
    assert KEY not in repr(settings) and KEY not in repr(settings.workers.encryption_key_list())
    shown = [info.display for info in settings.describe() if info.key == "workers.encryption_keys"]
    assert shown and KEY not in shown[0]


@pytest.mark.parametrize(
    ("entries", "message"),
    [
        (["nocolon"], "each entry must be 'id:base64key'"),
        ([f"a:{KEY[:-8]}*"], "is not base64 text"),
        ([f"a:{base64.b64encode(os.urandom(16)).decode()}"], "is 16 bytes; AES-256 needs 32"),
        ([f"a:{KEY}", f"a:{OTHER}"], "key id 'a' is given twice"),
        ([f"bad id:{KEY}"], "key id 'bad id' must be 1 to 64 letters"),
    ],
)
def test_bad_keys_are_refused_at_start(tmp_path: Path, entries: object, message: str) -> None:
    with pytest.raises(InvalidEncryptionKeyError, match=message) as info:
        _load(tmp_path, encryption_keys=json.dumps(entries))
    assert KEY not in str(info.value) and OTHER not in str(info.value)


def test_the_keys_file_must_be_private(tmp_path: Path) -> None:
    keys = tmp_path / "keys"
    keys.write_text(f"# rotated out in 2026\n\nold:{KEY}\n")
    keys.chmod(0o644)
    with pytest.raises(InvalidEncryptionKeyError, match="chmod 600"):
        _load(tmp_path, encryption_keys_file=str(keys))
    keys.chmod(0o600)
    loaded = _load(tmp_path, encryption_keys=f'["new:{OTHER}"]', encryption_keys_file=str(keys))
    assert [k.id for k in loaded] == ["new", "old"]  # the setting's first: it encrypts
    with pytest.raises(InvalidEncryptionKeyError, match="cannot read the keys file"):
        _load(tmp_path, encryption_keys_file=str(tmp_path / "missing"))
    keys.write_text(f"new:{KEY}\n")
    with pytest.raises(InvalidEncryptionKeyError, match="given twice"):
        _load(tmp_path, encryption_keys=f'["new:{OTHER}"]', encryption_keys_file=str(keys))


def test_a_table_entry_must_be_text() -> None:
    with pytest.raises(InvalidEncryptionKeyError, match="must be base64 text, not int"):
        parse_key_entries({"a": 5})
