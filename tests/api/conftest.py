"""Fixtures of the API tests: runs registered on the real server, and attached task instances.

A test registers a run with the public client, queues a task instance to get its token, and
talks to the execution API as that task instance's supervisor would.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from taskstate.client.execution import ExecutionClient
from taskstate.client.public import PublicClient

ORDERS = {"name": "orders", "uri": "s3://lake/orders"}
EVENTS = {"name": "events", "uri": "s3://lake/events"}
UNDECLARED = {"name": "secrets", "uri": "s3://vault/secrets"}

# submit: retried once, no assets. load: reads orders, writes events. audit: another task.
# vault: the only task that declares the secrets asset, so it exists on the server.
DEFAULT_TASKS: list[dict[str, Any]] = [
    {"task_id": "submit", "retries": 1, "retry_delay_seconds": 0},
    {"task_id": "load", "inlets": [ORDERS], "outlets": [EVENTS]},
    {"task_id": "audit"},
    {"task_id": "vault", "inlets": [UNDECLARED]},
]


@dataclass
class Run:
    dag_id: str
    run_id: str
    tis: dict[str, dict[str, Any]]  # task_id -> task instance body (the last map index)
    task_instances: list[dict[str, Any]]

    def ti_id(self, task_id: str) -> str:
        return str(self.tis[task_id]["id"])


@dataclass
class Attached:
    """A queued (and by default started) task instance, with its token and client."""

    ti_id: str
    token: str
    client: ExecutionClient
    queued: dict[str, Any]

    @property
    def headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}"}


@pytest.fixture
def public(api_server: Any) -> Iterator[PublicClient]:
    with api_server.public() as client:
        yield client


@pytest.fixture
def make_run(public: PublicClient) -> Callable[..., Run]:
    numbers = itertools.count(1)

    def make(
        tasks: list[dict[str, Any]] | None = None,
        *,
        dag_id: str = "etl",
        run_id: str | None = None,
    ) -> Run:
        run_id = run_id or f"run_{next(numbers)}"
        body = public.create_run(
            {"dag_id": dag_id, "run_id": run_id, "tasks": tasks or DEFAULT_TASKS}
        )
        tis = body["task_instances"]
        return Run(dag_id, run_id, {ti["task_id"]: ti for ti in tis}, tis)

    return make


@pytest.fixture
def run(make_run: Callable[..., Run]) -> Run:
    return make_run()


@pytest.fixture
def attach(api_server: Any, public: PublicClient) -> Iterator[Callable[..., Attached]]:
    """``attach(ti_id)``: queue the task instance's next try and start it with its token."""
    opened: list[ExecutionClient] = []

    def attach_ti(ti_id: str, *, start: bool = True) -> Attached:
        queued = public.queue_task_instance(ti_id)
        client = ExecutionClient(api_server.url, queued["token"])
        opened.append(client)
        if start:
            client.start(ti_id, pid=os.getpid(), hostname="test-host")
        return Attached(ti_id, queued["token"], client, queued)

    yield attach_ti
    for client in opened:
        client.close()


@pytest.fixture
def raw(api_server: Any) -> Iterator[httpx.Client]:
    """Plain httpx on the server, for requests the clients would never send."""
    with httpx.Client(base_url=api_server.url) as client:
        yield client


@pytest.fixture
def api_headers(api_server: Any) -> dict[str, str]:
    return {"authorization": f"Bearer {api_server.api_key}"}


def error_of(answer: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The error body of ``answer``, checked to be ``{code, message, detail}`` with this status."""
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert set(body) == {"code", "message", "detail"}
    assert body["code"] == code
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["detail"], dict)
    return body  # type: ignore[no-any-return]
