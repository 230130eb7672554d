"""[workers] encryption_keys end to end: real ``dags test`` runs, inline and through the
object-storage worker backend. The database rows and the object files hold only ciphertext;
the task reads its values back; a second run with a rotated key ring reads what the first
wrote and writes with the new key; the CLI decrypts with the keys and says "encrypted"
without them."""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .conftest import DAGS, OBJECT_STORAGE, worker_backend_env

pytestmark = pytest.mark.e2e

DAG = DAGS / "encryption.py"
SECRET = "plaintext-marker-7f3a"
OLD = "old:" + base64.b64encode(os.urandom(32)).decode()
NEW = "new:" + base64.b64encode(os.urandom(32)).decode()
NO_KEYS = {
    "TASKSTATE__WORKERS__ENCRYPTION_KEYS": "[]",
    "TASKSTATE__WORKERS__ENCRYPTION_KEYS_FILE": "",
}


@dataclass
class EncryptedRuns:
    cli: Any
    objects: Path | None
    runs: list[Any]


@pytest.fixture(scope="module", params=["inline", "object_storage"])
def encrypted(
    request: pytest.FixtureRequest,
    make_cli: Callable[..., Any],
    tmp_path_factory: pytest.TempPathFactory,
) -> EncryptedRuns:
    tmp = tmp_path_factory.mktemp(f"encryption-{request.param}")
    objects = tmp / "objects" if request.param == "object_storage" else None
    env = {} if objects is None else worker_backend_env(OBJECT_STORAGE, root=objects.as_uri())
    cli = make_cli(f"encryption-{request.param}", env)
    first = cli.dags_test(
        DAG, "--run-id", "r1", env={"TASKSTATE__WORKERS__ENCRYPTION_KEYS": json.dumps([OLD])}
    )
    # Rotated: the new key first (in the setting), the old one still there (in a 0600 file).
    keys_file = tmp / "keys"
    keys_file.write_text(f"# retired, still decrypts\n{OLD}\n")
    keys_file.chmod(0o600)
    cli.env["TASKSTATE__WORKERS__ENCRYPTION_KEYS"] = json.dumps([NEW])
    cli.env["TASKSTATE__WORKERS__ENCRYPTION_KEYS_FILE"] = str(keys_file)
    second = cli.dags_test(DAG, "--run-id", "r2")
    return EncryptedRuns(cli, objects, [first, second])


def test_the_task_reads_its_values_back(encrypted: EncryptedRuns) -> None:
    first, second = encrypted.runs
    assert first.code == 0, str(first)
    assert first.summary() == {"keeps": ("success", 2)}
    assert "keeps: PASS after 1 runs" in first.lines("keeps")
    assert second.code == 0, str(second)
    assert "keeps: PASS after 2 runs" in second.lines("keeps"), str(second)


def test_the_database_holds_no_plaintext(encrypted: EncryptedRuns) -> None:
    cli = encrypted.cli
    tasks = cli.query("SELECT key, data, ref_backend, encryption FROM task_state ORDER BY key")
    assets = cli.query("SELECT key, data, ref_backend, encryption FROM asset_state")
    # try 1 of each run wrote with the key ring of its run; the asset with the newest.
    assert sorted(row[3] for row in tasks) == ["new", "old"]
    assert [(key, key_id) for key, _, _, key_id in assets] == [("ledger", "new")]
    for _, data, ref_backend, _ in [*tasks, *assets]:
        assert SECRET not in data
        if encrypted.objects is None:
            assert ref_backend is None and isinstance(json.loads(data), str)
        else:
            assert ref_backend == OBJECT_STORAGE


def test_the_objects_hold_no_plaintext(encrypted: EncryptedRuns) -> None:
    if encrypted.objects is None:
        pytest.skip("inline: no worker backend")
    files = [p for p in encrypted.objects.rglob("*") if p.is_file()]
    assert len(files) == 3  # two tokens, one ledger
    for path in files:
        text = path.read_text()
        assert SECRET not in text
        assert isinstance(json.loads(text), str)  # the ciphertext, as a JSON string


def test_the_cli_decrypts_with_the_keys_and_says_encrypted_without(
    encrypted: EncryptedRuns,
) -> None:
    cli = encrypted.cli
    listed = cli.run("state", "list", "--dag-id", "e2e_encryption", "--json").json()
    assert {e["run_id"]: e["encryption"] for e in listed} == {"r1": "old", "r2": "new"}
    if encrypted.objects is None:
        assert [e["value"] for e in listed] == [{"secret": SECRET, "n": 1}] * 2
        assert all(e["decrypted"] for e in listed)
    else:  # the CLI resolves no references: it says what they are
        table = cli.run("state", "list", "--asset", "e2e_vault")
        assert "encrypted (key new)" in table.stdout, str(table)
        return
    got = cli.run("state", "get", "ledger", "--asset", "e2e_vault")
    assert json.loads(got.stdout) == {"secret": SECRET, "runs": ["r1", "r2"]}

    plain = cli.run("state", "get", "ledger", "--asset", "e2e_vault", env=NO_KEYS)
    assert (plain.code, plain.stdout.strip()) == (0, "encrypted (key new)"), str(plain)
    table = cli.run("state", "list", "--dag-id", "e2e_encryption", env=NO_KEYS)
    assert table.stdout.count("encrypted (key ") == 2 and SECRET not in table.stdout
    wrong = cli.run(
        "state",
        "get",
        "ledger",
        "--asset",
        "e2e_vault",
        env={"TASKSTATE__WORKERS__ENCRYPTION_KEYS": json.dumps([OLD.replace("old:", "new:")])},
    )
    assert wrong.code == 1 and "does not authenticate" in wrong.stderr, str(wrong)


def test_the_cli_encrypts_what_it_sets(encrypted: EncryptedRuns) -> None:
    cli = encrypted.cli
    done = cli.run("state", "set", "note", '{"pin": "0000-marker"}', "--asset", "e2e_vault")
    assert done.code == 0 and "encrypted with key new" in done.stdout, str(done)
    stored = cli.query("SELECT data, encryption FROM asset_state WHERE key = 'note'")
    assert stored[0][1] == "new" and "0000-marker" not in stored[0][0]
    got = cli.run("state", "get", "note", "--asset", "e2e_vault", "--json").json()
    assert got["value"] == {"pin": "0000-marker"} and got["encryption"] == "new"
    cli.run("state", "delete", "note", "--asset", "e2e_vault")
