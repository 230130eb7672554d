"""The two HTTP clients against a real server: how answers, errors and connections are handled.

The API tests (tests/api) go through these clients too; here is what belongs to the clients
themselves: URL building, error translation, connection failures and reconnection.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import msgspec
import pytest

from taskstate.api.keys import client_api_key
from taskstate.api.server import EmbeddedServer
from taskstate.client._common import key_path
from taskstate.client.execution import ExecutionClient
from taskstate.client.public import PublicClient
from taskstate.contracts.scopes import TaskInstanceId
from taskstate.errors import (
    APIConnectionError,
    ConflictError,
    InvalidValueError,
    NotAuthenticatedError,
    NotFoundError,
    RuntimeFailure,
    TaskStateError,
    UsageError,
)


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def public(api_server: Any) -> Iterator[PublicClient]:
    with api_server.public() as client:
        yield client


@pytest.fixture
def ti(public: PublicClient, api_server: Any) -> Iterator[tuple[str, ExecutionClient]]:
    created = public.create_run({"dag_id": "d", "run_id": "r", "tasks": [{"task_id": "t"}]})
    ti_id = created["task_instances"][0]["id"]
    client = ExecutionClient(api_server.url, public.queue_task_instance(ti_id)["token"])
    client.start(ti_id, pid=os.getpid(), hostname="test")
    yield ti_id, client
    client.close()


# -- key paths --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "segment"),
    [
        ("plain", "plain"),
        ("a/b", "a%2Fb"),
        (".", "%2E"),
        ("..", "%2E%2E"),
        ("...", "..."),  # not a dot segment
        ("a/../b", "a%2F..%2Fb"),  # one segment, so no dot segment either
        ("?#% &+", "%3F%23%25%20%26%2B"),
        ("é", "%C3%A9"),
    ],
)
def test_a_key_is_one_path_segment(key: str, segment: str) -> None:
    assert key_path(key) == segment


# -- the execution client ---------------------------------------------------------------------


def test_execution_client_accepts_a_trailing_slash(
    api_server: Any, ti: tuple[str, ExecutionClient]
) -> None:
    ti_id, client = ti
    other = ExecutionClient(api_server.url + "/", client.heartbeat(ti_id).token)
    try:
        other.set_state(TaskInstanceId(ti_id), "k", b"1", None)
        assert other.get_state(TaskInstanceId(ti_id), "k").value is not msgspec.UNSET
    finally:
        other.close()


@pytest.mark.parametrize("url", ["127.0.0.1:8080", "ftp://host", "http://", "nonsense"])
def test_execution_client_refuses_a_malformed_url(url: str) -> None:
    with pytest.raises(UsageError, match="http"):
        ExecutionClient(url, "token")


def test_execution_client_cannot_reach_a_closed_port() -> None:
    client = ExecutionClient(f"http://127.0.0.1:{free_port()}", "token")
    try:
        with pytest.raises(APIConnectionError, match="cannot reach") as info:
            client.get_state(TaskInstanceId("ti"), "k")
        assert isinstance(info.value, RuntimeFailure)
        assert info.value.status == 503
    finally:
        client.close()


def test_execution_client_reconnects_after_the_server_restarts(settings: Any) -> None:
    """A connection the server closed while idle is replaced, not reported as a failure."""
    port = free_port()
    with EmbeddedServer(settings, port=port) as server:
        with PublicClient(server.url, client_api_key(settings)) as public:
            created = public.create_run({"dag_id": "d", "run_id": "r", "tasks": [{"task_id": "t"}]})
            ti_id = created["task_instances"][0]["id"]
            token = public.queue_task_instance(ti_id)["token"]
        client = ExecutionClient(server.url, token)
        client.start(ti_id, pid=1, hostname="h")
        client.set_state(TaskInstanceId(ti_id), "k", b'"before"', None)
    try:
        # The old server closed the kept-alive connection when it stopped; same port, same DB.
        with EmbeddedServer(settings, port=port):
            got = client.get_state(TaskInstanceId(ti_id), "k")
            assert msgspec.json.decode(got.value) == "before"  # type: ignore[arg-type]
            client.set_state(TaskInstanceId(ti_id), "k", b'"after"', None)
            got = client.get_state(TaskInstanceId(ti_id), "k")
            assert msgspec.json.decode(got.value) == "after"  # type: ignore[arg-type]
        with pytest.raises(APIConnectionError):
            client.get_state(TaskInstanceId(ti_id), "k")
    finally:
        client.close()


def test_execution_client_raises_the_servers_error_class(
    ti: tuple[str, ExecutionClient],
) -> None:
    ti_id, client = ti
    with pytest.raises(ConflictError) as info:
        client.start(ti_id, pid=1, hostname="h")
    assert info.value.detail == {"ti_id": ti_id, "state": "running"}
    assert info.value.message.startswith("task instance 't' is running")


# -- the public client ------------------------------------------------------------------------


def test_public_client_strips_a_trailing_slash(api_server: Any) -> None:
    with PublicClient(api_server.url + "/", api_server.api_key) as client:
        assert client.base_url == api_server.url
        assert client.list_runs() == []


def test_public_client_cannot_reach_a_closed_port() -> None:
    with (
        PublicClient(f"http://127.0.0.1:{free_port()}", "key") as client,
        pytest.raises(APIConnectionError, match="cannot reach the API server") as info,
    ):
        client.list_runs()
    assert isinstance(info.value.__cause__, httpx.ConnectError)


def test_public_client_reports_a_timeout() -> None:
    # A listening socket that never answers: the connect succeeds, the read times out.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with (
            PublicClient(url, "key", timeout=0.2) as client,
            pytest.raises(APIConnectionError, match="did not answer in time"),
        ):
            client.list_runs()


def test_public_client_raises_the_servers_error_class(public: PublicClient) -> None:
    with pytest.raises(NotFoundError) as info:
        public.get_run("d", "nope")
    assert info.value.message == "DAG 'd' has no run 'nope'"
    assert info.value.detail == {"dag_id": "d", "run_id": "nope"}


def _answering(status: int, content: bytes, content_type: str) -> httpx.MockTransport:
    """A transport standing in for something in front of the API server (a proxy, say)."""

    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, content=content, headers={"content-type": content_type})

    return httpx.MockTransport(handle)


def test_public_client_on_an_answer_that_is_not_ours() -> None:
    transport = _answering(502, b"<html>Bad Gateway</html>", "text/html")
    with (
        PublicClient("http://proxy", "key", transport=transport) as client,
        pytest.raises(RuntimeFailure) as info,
    ):
        client.list_runs()
    assert type(info.value) is RuntimeFailure
    assert info.value.message == "GET /api/v1/dag-runs answered 502: <html>Bad Gateway</html>"


def test_public_client_on_an_error_code_it_does_not_know() -> None:
    body = b'{"code": "from_the_future", "message": "new server", "detail": {"x": 1}}'
    transport = _answering(418, body, "application/json")
    with (
        PublicClient("http://newer", "key", transport=transport) as client,
        pytest.raises(TaskStateError) as info,
    ):
        client.list_runs()
    assert type(info.value) is TaskStateError
    assert (info.value.message, info.value.detail) == ("new server", {"x": 1})


def test_public_client_answers_auth_errors_as_classes(api_server: Any) -> None:
    with (
        PublicClient(api_server.url, "nope") as client,
        pytest.raises(NotAuthenticatedError, match="invalid API key"),
    ):
        client.list_assets()


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        (None, "None cannot be stored"),
        (float("nan"), "not a JSON number"),
        ({"a": [float("inf")]}, "not a JSON number"),
        (datetime(2026, 1, 1, tzinfo=UTC), "datetime is not JSON-serializable"),
        ({1: "int key"}, "object keys must be strings"),
        ({"a", "set"}, "set is not JSON-serializable"),
    ],
    ids=["none", "nan", "inf", "datetime", "int-key", "set"],
)
def test_public_client_checks_a_value_before_sending_it(value: Any, needle: str) -> None:
    sent: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={})

    with PublicClient("http://unused", "key", transport=httpx.MockTransport(handle)) as client:
        with pytest.raises(InvalidValueError, match=needle):
            client.set_task_state("d", "r", "t", "k", value)
        with pytest.raises(InvalidValueError, match=needle):
            client.set_asset_state("orders", "k", value)
    assert sent == []


def test_public_client_sends_the_value_as_json(api_server: Any, public: PublicClient) -> None:
    public.create_run({"dag_id": "d", "run_id": "r", "tasks": [{"task_id": "t"}]})
    value = {"text": 'ünï "quoted" \n', "n": [1, -2.5e-10, 10**18], "ok": False, "nil": None}
    assert public.set_task_state("d", "r", "t", "k", value)["value"] == value
    assert public.get_task_state("d", "r", "t", "k")["value"] == value


# -- XComs and asset events -----------------------------------------------------------------


@pytest.mark.parametrize("key", ["a/b", "..", "?#% &+", "é", "map_index=1&dag_id=x"])
def test_an_xcom_key_travels_intact(
    key: str, ti: tuple[str, ExecutionClient], public: PublicClient
) -> None:
    ti_id, client = ti
    client.push_xcom(ti_id, key, b'"v"')
    assert client.pull_xcom("t", key) == [b'"v"']
    assert client.pull_xcom("t", key, [-1, 3]) == [b'"v"', None]
    assert [x["key"] for x in public.list_xcoms(ti_id)] == [key]


def test_the_execution_client_reads_null_as_none(ti: tuple[str, ExecutionClient]) -> None:
    ti_id, client = ti
    client.push_xcom(ti_id, "k", b"null")
    assert client.pull_xcom("t", "k") == [None]


def test_an_asset_name_is_one_path_segment_of_the_public_api(
    public: PublicClient, api_server: Any
) -> None:
    asset = {"name": "a/b?c#d", "uri": "s3://x/../y"}
    created = public.create_run(
        {"dag_id": "d", "run_id": "r2", "tasks": [{"task_id": "t", "outlets": [asset]}]}
    )
    ti_id = created["task_instances"][0]["id"]
    client = ExecutionClient(api_server.url, public.queue_task_instance(ti_id)["token"])
    try:
        client.start(ti_id, pid=os.getpid(), hostname="test")
        client.record_asset_events(ti_id, [(asset["name"], b'{"k": 1}')])
        assert [e.asset.name for e in client.get_asset_events(asset["name"]).events] == ["a/b?c#d"]
    finally:
        client.close()
    (event,) = public.list_asset_events(asset["name"], limit=5)
    assert (event["asset"], event["extra"]) == ("a/b?c#d", {"k": 1})
