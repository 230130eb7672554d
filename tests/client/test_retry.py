"""The retry policy of the clients (``taskstate.client._retry``): what is retried, how long,
and that a repeated POST carries the same idempotency key on every try."""

from __future__ import annotations

import json
import socket
import threading
import time
from typing import Any

import httpx
import pytest

from taskstate.api.keys import client_api_key
from taskstate.api.server import EmbeddedServer
from taskstate.client._retry import (
    IDEMPOTENCY_HEADER,
    RetryingConnection,
    RetryingTransport,
    RetryPolicy,
    needs_key,
    transient_reply,
)
from taskstate.client.execution import ExecutionClient
from taskstate.client.public import PublicClient
from taskstate.errors import APIConnectionError, BackendError

FAST = RetryPolicy(budget_seconds=5.0, initial_wait=0.001, max_wait=0.01)


def _backend_error(transient: bool | None) -> bytes:
    detail: dict[str, Any] = {"database": "sqlite:///x"}
    if transient is not None:
        detail["transient"] = transient
    return json.dumps({"code": BackendError.code, "message": "m", "detail": detail}).encode()


@pytest.mark.parametrize(
    ("status", "body", "transient"),
    [
        (200, b"{}", False),
        (500, b"{}", False),
        (409, b"{}", False),
        (503, b"Service Unavailable", True),  # a proxy's, or a server starting
        (503, b'{"code": "api_connection", "message": "m", "detail": {}}', True),
        (503, _backend_error(True), True),  # a lost database connection
        (503, _backend_error(False), False),  # a value the database cannot hold
        (503, _backend_error(None), False),  # a backend that cannot do what was asked
    ],
)
def test_which_replies_are_transient(status: int, body: bytes, transient: bool) -> None:
    assert transient_reply(status, body) is transient


@pytest.mark.parametrize(
    ("method", "path", "keyed"),
    [
        ("GET", "/execution/state/ti/x/k", False),
        ("PUT", "/execution/state/ti/x/k", False),
        ("DELETE", "/execution/state/ti/x", False),
        ("POST", "/execution/task-instances/x/start", True),
        ("POST", "/execution/task-instances/x/finish", True),
        ("POST", "/execution/task-instances/x/heartbeat", False),
        ("PATCH", "/api/v1/dag-runs/d/r", True),
        ("POST", "/api/v1/dag-runs", True),
        ("POST", "/api/v1/references/find?x=1", False),
    ],
)
def test_which_requests_carry_an_idempotency_key(method: str, path: str, keyed: bool) -> None:
    assert needs_key(method, path) is keyed


class _Flaky:
    """A connection whose first ``failures`` answers are given by ``fail``."""

    base_url = "http://flaky"

    def __init__(self, failures: int, fail: Any) -> None:
        self.failures = failures
        self.fail = fail
        self.headers: list[dict[str, str]] = []

    def request(
        self, method: str, path: str, body: bytes | None, headers: dict[str, str]
    ) -> tuple[int, bytes]:
        self.headers.append(headers)
        if len(self.headers) <= self.failures:
            return self.fail()  # type: ignore[no-any-return]
        return 200, b"{}"

    def close(self) -> None:
        pass


def _refused() -> tuple[int, bytes]:
    raise APIConnectionError("connection refused")


def test_a_post_is_retried_with_the_same_key() -> None:
    flaky = _Flaky(3, _refused)
    conn = RetryingConnection(flaky, FAST)
    assert conn.request("POST", "/execution/task-instances/x/finish", b"{}", {}) == (200, b"{}")
    keys = {h[IDEMPOTENCY_HEADER] for h in flaky.headers}
    assert len(flaky.headers) == 4 and len(keys) == 1
    # The next call is another request: another key.
    conn.request("POST", "/execution/task-instances/x/finish", b"{}", {})
    assert flaky.headers[-1][IDEMPOTENCY_HEADER] not in keys


def test_a_transient_503_is_retried_and_a_lasting_one_is_not() -> None:
    flaky = _Flaky(2, lambda: (503, _backend_error(True)))
    assert RetryingConnection(flaky, FAST).request("GET", "/x", None, {}) == (200, b"{}")
    lasting = _Flaky(2, lambda: (503, _backend_error(False)))
    assert RetryingConnection(lasting, FAST).request("GET", "/x", None, {})[0] == 503
    assert len(lasting.headers) == 1


def test_retries_stop_once_the_budget_is_spent() -> None:
    waits: list[float] = []
    policy = RetryPolicy(budget_seconds=0.3, initial_wait=0.01, max_wait=0.05, sleep=waits.append)
    clock = time.monotonic()

    def slow_refusal() -> tuple[int, bytes]:
        # The fake sleep returns at once: the attempts themselves spend the budget.
        time.sleep(0.01)
        return _refused()

    with pytest.raises(APIConnectionError):
        RetryingConnection(_Flaky(10**9, slow_refusal), policy).request("GET", "/x", None, {})
    elapsed = time.monotonic() - clock
    assert 0.3 <= elapsed < 2.0
    # Exponential, capped: 0.01, 0.02, 0.04, then 0.05 (each plus up to 0.01 of jitter).
    assert waits[:3] == pytest.approx([0.015, 0.025, 0.045], abs=0.006)
    assert max(waits) <= 0.05 + 0.01


def test_no_budget_means_no_retry() -> None:
    flaky = _Flaky(1, _refused)
    with pytest.raises(APIConnectionError):
        RetryingConnection(flaky, RetryPolicy(budget_seconds=0)).request("GET", "/x", None, {})
    assert len(flaky.headers) == 1


def test_the_public_client_retries_through_its_transport() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) == 1:
            raise httpx.ConnectError("refused", request=request)
        if len(seen) == 2:
            return httpx.Response(503, content=b"starting")
        return httpx.Response(201, json={"dag_id": "d"})

    transport = RetryingTransport(httpx.MockTransport(answer), FAST)
    with PublicClient("http://server", "key", transport=transport) as client:
        assert client.create_run({"dag_id": "d", "run_id": "r", "tasks": []}) == {"dag_id": "d"}
    assert len(seen) == 3
    assert len({r.headers[IDEMPOTENCY_HEADER] for r in seen}) == 1
    assert all(r.content == seen[0].content for r in seen)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_call_waits_for_a_server_that_starts_late(settings: Any) -> None:
    """Connection refused at first: the client retries until the server listens."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    with EmbeddedServer(settings, port=port), PublicClient(url, client_api_key(settings)) as public:
        created = public.create_run({"dag_id": "d", "run_id": "r", "tasks": [{"task_id": "t"}]})
        ti_id = created["task_instances"][0]["id"]
        token = public.queue_task_instance(ti_id)["token"]
    client = ExecutionClient(url, token, retry=RetryPolicy(budget_seconds=30, max_wait=0.2))
    started = threading.Event()
    ready = threading.Event()

    def serve_later() -> None:
        started.wait()
        with EmbeddedServer(settings, port=port):
            ready.set()
            finished.wait()

    finished = threading.Event()
    thread = threading.Thread(target=serve_later)
    thread.start()
    try:
        started.set()  # the call below is refused until the server is up
        answer = client.start(ti_id, pid=1, hostname="h")
        assert answer.ti.try_number == 1
        assert ready.is_set()
    finally:
        finished.set()
        thread.join()
        client.close()
