"""``dags test --api-url URL --api-key-file F``: the run is registered with, and its state kept by,
an API server that is already running (here a real uvicorn server in this process), not an
embedded one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from .conftest import EXAMPLES

pytestmark = pytest.mark.e2e


def test_a_run_against_a_running_api_server(make_cli: Callable[..., Any], api_server: Any) -> None:
    cli = make_cli("external")  # a home of its own, apart from the server's
    key_file = cli.home / "server_api_key"
    key_file.write_text(api_server.api_key)
    server = ("--api-url", api_server.url, "--api-key-file", str(key_file))
    run = cli.dags_test(EXAMPLES / "seed_task_state.py", "--run-id", "ext", *server)
    assert run.code == 0, str(run)
    assert "test_clear | clear: PASS" in run.stdout.splitlines()
    with api_server.public() as client:
        assert client.get_run("aip103_memory_backend_test", "ext")["state"] == "success"
        entries = client.list_task_state("aip103_memory_backend_test", "ext")
    assert sorted((e["task_id"], e["key"]) for e in entries) == [
        ("test_set_and_get", "checkpoint"),
        ("test_set_and_get", "job_id"),
    ]
    # The CLI's own home database was not used: everything went to the server.
    if cli.settings().database.url.startswith("sqlite"):
        assert not (cli.home / "taskstate.db").exists()
    else:
        assert cli.query("SELECT count(*) FROM dag_run") == [(0,)]
    listed = cli.run(
        "state", "list", "--dag-id", "aip103_memory_backend_test", "--json", *server
    ).json()
    assert [e["key"] for e in listed] == ["checkpoint", "job_id"]


def test_a_wrong_api_key_is_refused_before_anything_runs(cli: Any, api_server: Any) -> None:
    run = cli.dags_test(
        EXAMPLES / "seed_task_state.py",
        "--api-url",
        api_server.url,
        env={"TASKSTATE_API_KEY": "wrong"},
    )
    assert run.code != 0, str(run)
    assert run.stdout == ""
    assert "error:" in run.stderr and "Traceback" not in run.stderr, str(run)
    with api_server.public() as client:
        assert client.list_runs() == []
