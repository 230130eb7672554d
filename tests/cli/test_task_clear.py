"""``taskstate tasks clear``: schedules a run's task instances again, for ``dags test
--resume`` to run them (the run's side is tested in tests/api/test_clearing.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from taskstate.client.execution import ExecutionClient
from taskstate.contracts.scopes import TaskInstanceId

Cli = Callable[..., Any]  # tests/cli/conftest.py: run the command, get a Result


def _failed_run(api_server: Any) -> dict[str, str]:
    with api_server.public() as public:
        tasks = [{"task_id": "a"}, {"task_id": "b"}]
        created = public.create_run({"dag_id": "d", "run_id": "r", "tasks": tasks})
        ids = {ti["task_id"]: ti["id"] for ti in created["task_instances"]}
        for task_id, end in (("a", "success"), ("b", "failed")):
            token = public.queue_task_instance(ids[task_id])["token"]
            client = ExecutionClient(api_server.url, token)
            client.start(ids[task_id], pid=1, hostname="h")
            client.set_state(TaskInstanceId(ids[task_id]), "k", b"1", None)
            client.finish(ids[task_id], end)
            client.close()
    return ids


def test_tasks_clear_keeps_the_state_by_default(cli: Cli, api_server: Any) -> None:
    _failed_run(api_server)
    where = ("--api-url", api_server.url)
    home = api_server.settings.home
    result = cli("tasks", "clear", "--dag-id", "d", "--run-id", "r", *where, home=home)
    assert result.code == 0, result.stderr
    assert result.stdout == "cleared 1 task instance(s) of run 'r' of 'd': b; task state kept\n"
    result = cli(
        "tasks", "clear", "--dag-id", "d", "--run-id", "r", "--task-id", "a", "--discard-state",
        *where, home=home,
    )  # fmt: skip
    assert result.code == 0, result.stderr
    assert result.stdout.endswith(": a; task state cleared\n")
    with api_server.public() as public:
        run = public.get_run("d", "r")
        assert {ti["task_id"]: ti["state"] for ti in run["task_instances"]} == {
            "a": "scheduled",
            "b": "scheduled",
        }
        assert [e["task_id"] for e in public.list_task_state("d", "r")] == ["b"]


def test_tasks_clear_of_an_unknown_task_fails(cli: Cli, api_server: Any) -> None:
    _failed_run(api_server)
    result = cli(
        "tasks", "clear", "--dag-id", "d", "--run-id", "r", "--task-id", "nope",
        "--api-url", api_server.url, home=api_server.settings.home,
    )  # fmt: skip
    assert result.code == 2  # a usage error
    assert result.stderr == "error: run 'r' of DAG 'd' has no task 'nope'\n"
