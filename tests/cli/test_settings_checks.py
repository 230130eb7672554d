"""Settings checked when a command starts: a bad one stops it with exit code 2 and one line
naming the setting, no traceback, before any task runs or the server binds a port."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import Cli

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SEED = str(EXAMPLES / "seed_task_state.py")
MEMORY = "memory_state_backend.MemoryStateBackend"


def _one_line_error(stderr: str) -> str:
    assert "Traceback" not in stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.mark.parametrize(
    ("path", "kwargs", "expected"),
    [
        (
            "object_storage",
            {"rooot": "/tmp/nowhere"},
            "[workers] state_backend_kwargs: ObjectStorageStateBackend on file:// takes no "
            "option 'rooot'; did you mean 'root'?",
        ),
        (
            MEMORY,
            {"colour": "red"},
            "[workers] state_backend_kwargs: MemoryStateBackend takes no option 'colour'",
        ),
        ("no_such_module_xyz.Backend", {}, "no module named 'no_such_module_xyz'"),
        ("object_storage", {"root": "relative/path"}, "must be an absolute path or a URL"),
    ],
)
def test_dags_test_refuses_a_bad_worker_backend_at_start(
    cli: Cli, path: str, kwargs: dict[str, str], expected: str
) -> None:
    result = cli(
        "dags",
        "test",
        SEED,
        env={
            "TASKSTATE__WORKERS__STATE_BACKEND": path,
            "TASKSTATE__WORKERS__STATE_BACKEND_KWARGS": json.dumps(kwargs),
        },
    )
    assert result.code == 2, result
    assert expected in _one_line_error(result.stderr)
    assert "test_set_and_get" not in result.stdout  # no task ran, no summary


def test_dags_test_refuses_a_token_ttl_below_three_heartbeats(cli: Cli) -> None:
    result = cli("dags", "test", SEED, env={"TASKSTATE__API__TOKEN_TTL_SECONDS": "20"})
    assert result.code == 2, result
    line = _one_line_error(result.stderr)
    assert "[api] token_ttl_seconds = 20 must be at least 3 x [workers] heartbeat_interval" in line


@pytest.mark.parametrize(("port", "bound"), [("70000", "65535"), ("-1", "0")])
def test_api_server_refuses_a_port_out_of_range(
    cli: Cli, cli_home: Path, port: str, bound: str
) -> None:
    result = cli("api-server", "--port", port)
    assert result.code == 2, result
    assert "Traceback" not in result.stderr
    assert "Invalid value for '--port'" in result.stderr and bound in result.stderr
    assert not (cli_home / "taskstate.db").exists()


def test_api_server_refuses_a_port_setting_out_of_range(cli: Cli, cli_home: Path) -> None:
    result = cli("api-server", env={"TASKSTATE__API__PORT": "70000"})
    assert result.code == 2, result
    assert "[api] port = '70000' (from env TASKSTATE__API__PORT)" in _one_line_error(result.stderr)
    assert not (cli_home / "taskstate.db").exists()
