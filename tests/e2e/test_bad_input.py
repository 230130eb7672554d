"""Bad input, from inside a task and from the settings: a typed error, a clear message, nothing
stored changed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from .conftest import DAGS

pytestmark = pytest.mark.e2e


# The cases tests/e2e/dags/bad_input.py checks, each with the error class it must raise.
CASES = [
    ("empty key", "InvalidKeyError"),
    ("empty key get", "InvalidKeyError"),
    ("empty key asset", "InvalidKeyError"),
    ("key of 513", "InvalidKeyError"),
    ("key of 513 delete", "InvalidKeyError"),
    ("value None", "InvalidValueError"),
    ("value NaN", "InvalidValueError"),
    ("nested inf", "InvalidValueError"),
    ("value set()", "InvalidValueError"),
    ("value object()", "InvalidValueError"),
    ("asset value None", "InvalidValueError"),
    ("too large", "ValueTooLargeError"),
    ("unknown asset", "UndeclaredAssetError"),
    ("undeclared asset", "UndeclaredAssetError"),
    ("undeclared asset by name", "UndeclaredAssetError"),
    ("server undeclared asset get", "UndeclaredAssetError"),
    ("server undeclared asset set", "UndeclaredAssetError"),
    ("server null value", "InvalidValueError"),
    ("server malformed JSON", "InvalidValueError"),
]


@dataclass
class BadInputRun:
    cli: Any
    run: Any


@pytest.fixture(scope="module")
def bad_input(make_cli: Callable[..., Any]) -> BadInputRun:
    cli = make_cli("bad-input", {"TASKSTATE__STATE_STORE__MAX_VALUE_BYTES": "1000"})
    return BadInputRun(cli, cli.dags_test(DAGS / "bad_input.py", "--run-id", "r1"))


def test_each_bad_call_raises_its_typed_error_in_the_task(bad_input: BadInputRun) -> None:
    run = bad_input.run
    assert run.code == 0, str(run)
    checked = [
        tuple(line[len("ok ") :].split(": ", 2)[:2])
        for line in run.lines("misuse")
        if line.startswith("ok ")
    ]
    assert checked == CASES, str(run)
    assert "bad input: ALL CHECKED" in run.lines("misuse")


def test_the_messages_say_what_is_wrong(bad_input: BadInputRun) -> None:
    lines = bad_input.run.lines("misuse")
    messages = {
        line[len("ok ") :].split(": ", 1)[0]: line for line in lines if line.startswith("ok ")
    }
    assert "must not be empty" in messages["empty key"]
    assert "at most 512 characters, this one has 513" in messages["key of 513"]
    assert "None cannot be stored" in messages["value None"]
    assert "nan is not a JSON number" in messages["value NaN"]
    assert "at $.a[0]" in messages["nested inf"]
    assert "set is not JSON-serializable" in messages["value set()"]
    assert "over the limit of 1000 ([state_store] max_value_bytes)" in messages["too large"]
    assert "does not declare asset 'nope' (declared: 'e2e_mine')" in messages["unknown asset"]
    assert "does not declare asset 'e2e_theirs'" in messages["server undeclared asset get"]


def test_nothing_stored_changed(bad_input: BadInputRun) -> None:
    cli = bad_input.cli
    assert cli.task_keys("e2e_bad_input", "r1") == {"misuse": {"k": {"n": 1}}}
    assert [(e["key"], e["value"]) for e in cli.asset_state("e2e_mine")] == [("k", {"n": 1})]
    assert [(e["key"], e["value"]) for e in cli.asset_state("e2e_theirs")] == [("secret", "theirs")]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("[workers\nparallelism = 2\n", "cannot parse config file", id="syntax"),
        pytest.param(
            '[workers]\nparallelism = "many"\n',
            "invalid setting [workers] parallelism = 'many'",
            id="bad-value",
        ),
        pytest.param("[worker]\nparallelism = 2\n", "[worker]", id="unknown-section"),
    ],
)
def test_a_malformed_config_file_stops_dags_test(
    cli: Any, tmp_path: Path, text: str, message: str
) -> None:
    config = tmp_path / "taskstate.toml"
    config.write_text(text)
    mark = tmp_path / "mark"
    run = cli.dags_test(
        DAGS / "simple.py", env={"TASKSTATE_CONFIG": str(config), "E2E_MARK": str(mark)}
    )
    assert run.code == 2, str(run)
    assert run.stdout == ""
    assert message in run.stderr and str(config) in run.stderr, str(run)
    assert "Traceback" not in run.stderr
    assert not mark.exists()


def test_a_dag_file_that_cannot_be_imported_stops_dags_test(cli: Any, tmp_path: Path) -> None:
    broken = tmp_path / "broken_dag.py"
    broken.write_text("from taskstate.sdk import DAG\nraise RuntimeError('broken on purpose')\n")
    run = cli.dags_test(broken)
    assert run.code == 2, str(run)
    assert "importing DAG file" in run.stderr and "broken on purpose" in run.stderr, str(run)


def test_an_unknown_worker_backend_stops_the_run_before_any_task_runs(
    cli: Any, tmp_path: Path
) -> None:
    """The runner builds the worker backend once at start: a bad one fails the command (exit
    2, one line), not every task."""
    mark = tmp_path / "mark"
    run = cli.dags_test(
        DAGS / "simple.py",
        env={"TASKSTATE__WORKERS__STATE_BACKEND": "no_such_module.Backend", "E2E_MARK": str(mark)},
    )
    assert run.code == 2, str(run)
    assert not mark.exists(), "the task's code ran"
    assert "no_such_module" in str(run) and "[workers] state_backend" in str(run), str(run)
    assert "Traceback" not in str(run)
