"""Credentials over real HTTP: task-instance tokens (execution API) and API keys (public API).

Every refusal answers ``{code, message, detail}`` with its status, the client raises the
matching ``taskstate.errors`` class, and nothing stored changes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import msgspec
import pytest

from taskstate.api.auth import TokenSigner
from taskstate.api.keys import client_api_key, server_secret_key
from taskstate.api.server import EmbeddedServer
from taskstate.client.execution import ExecutionClient
from taskstate.client.public import PublicClient
from taskstate.contracts.scopes import AssetNamed, TaskInstanceId
from taskstate.errors import (
    ConfigError,
    NotAuthenticatedError,
    PermissionDeniedError,
    UndeclaredAssetError,
)
from taskstate.state.types import TaskScope

from .conftest import Attached, Run, error_of

Attach = Callable[..., Attached]


def stored(client: ExecutionClient, ti_id: str, key: str) -> Any:
    body = client.get_state(TaskInstanceId(ti_id), key)
    return None if body.value is msgspec.UNSET else msgspec.json.decode(body.value)


@pytest.fixture
def two(run: Run, attach: Attach) -> tuple[Attached, Attached]:
    """Two running task instances of one run, each with ``k`` stored."""
    a, b = attach(run.ti_id("submit")), attach(run.ti_id("audit"))
    a.client.set_state(TaskInstanceId(a.ti_id), "k", b'"a"', None)
    b.client.set_state(TaskInstanceId(b.ti_id), "k", b'"b"', None)
    return a, b


# -- a token outside its scope --------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_a_token_on_another_task_instances_state_is_denied(
    method: str, two: tuple[Attached, Attached], raw: httpx.Client
) -> None:
    a, b = two
    answer = raw.request(
        method, f"/execution/state/ti/{b.ti_id}/k", headers=a.headers, json={"value": "x"}
    )
    body = error_of(answer, 403, "permission_denied")
    assert body["detail"] == {"ti_id": b.ti_id}
    assert stored(b.client, b.ti_id, "k") == "b"


def test_the_client_raises_permission_denied_for_another_task_instance(
    two: tuple[Attached, Attached],
) -> None:
    a, b = two
    with pytest.raises(PermissionDeniedError) as info:
        a.client.get_state(TaskInstanceId(b.ti_id), "k")
    assert info.value.status == 403
    with pytest.raises(PermissionDeniedError):
        a.client.set_state(TaskInstanceId(b.ti_id), "k", b'"stolen"', None)
    with pytest.raises(PermissionDeniedError):
        a.client.clear_state(TaskInstanceId(b.ti_id))
    with pytest.raises(PermissionDeniedError):
        a.client.heartbeat(b.ti_id)
    with pytest.raises(PermissionDeniedError):
        a.client.finish(b.ti_id, "failed")
    assert stored(b.client, b.ti_id, "k") == "b"
    assert b.client.heartbeat(b.ti_id).state == "running"


def test_another_task_instances_token_cannot_start_it(run: Run, attach: Attach) -> None:
    a = attach(run.ti_id("submit"))
    queued = attach(run.ti_id("audit"), start=False)
    with pytest.raises(PermissionDeniedError):
        a.client.start(queued.ti_id, pid=1, hostname="h")
    assert queued.client.start(queued.ti_id, pid=1, hostname="h").ti.try_number == 1


def test_an_undeclared_asset_is_denied(run: Run, attach: Attach, raw: httpx.Client) -> None:
    load = attach(run.ti_id("load"))  # declares orders and events, not secrets
    vault = attach(run.ti_id("vault"))  # declares secrets
    vault.client.set_state(AssetNamed("secrets"), "password", b'"hunter2"', None)

    with pytest.raises(UndeclaredAssetError) as info:
        load.client.get_state(AssetNamed("secrets"), "password")
    assert info.value.status == 403
    assert info.value.detail == {"asset": "secrets"}
    with pytest.raises(UndeclaredAssetError):
        load.client.set_state(AssetNamed("secrets"), "password", b'"pwned"', None)
    with pytest.raises(UndeclaredAssetError):
        load.client.clear_state(AssetNamed("secrets"))

    by_uri = raw.put(
        "/execution/state/asset/password",
        params={"uri": "s3://vault/secrets"},
        headers=load.headers,
        json={"value": "pwned"},
    )
    body = error_of(by_uri, 403, "asset_not_declared")
    assert body["detail"] == {"uri": "s3://vault/secrets"}

    unknown = raw.get(
        "/execution/state/asset/k", params={"name": "never-registered"}, headers=load.headers
    )
    error_of(unknown, 403, "asset_not_declared")

    got = vault.client.get_state(AssetNamed("secrets"), "password")
    assert msgspec.json.decode(got.value) == "hunter2"  # type: ignore[arg-type]


def test_a_task_without_assets_cannot_touch_any(run: Run, attach: Attach) -> None:
    audit = attach(run.ti_id("audit"))
    with pytest.raises(UndeclaredAssetError, match="does not declare asset 'orders'"):
        audit.client.set_state(AssetNamed("orders"), "k", b"1", None)


# -- missing, malformed, expired and foreign tokens ------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"authorization": ""},
        {"authorization": "Bearer"},
        {"authorization": "Basic dXNlcjpwYXNz"},
    ],
    ids=["none", "empty", "scheme-only", "basic"],
)
def test_no_token_is_401(headers: dict[str, str], seeded_ti: Attached, raw: httpx.Client) -> None:
    answer = raw.get(f"/execution/state/ti/{seeded_ti.ti_id}/k", headers=headers)
    body = error_of(answer, 401, "not_authenticated")
    assert "task-instance token" in body["message"]
    put = raw.put(f"/execution/state/ti/{seeded_ti.ti_id}/k", headers=headers, json={"value": 2})
    error_of(put, 401, "not_authenticated")
    assert stored(seeded_ti.client, seeded_ti.ti_id, "k") == 1


@pytest.fixture
def seeded_ti(run: Run, attach: Attach) -> Attached:
    ti = attach(run.ti_id("submit"))
    ti.client.set_state(TaskInstanceId(ti.ti_id), "k", b"1", None)
    return ti


@pytest.mark.parametrize(
    "token",
    ["garbage", "a.b.c", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", "x" * 2000],
    ids=["word", "three-parts", "alg-none", "long"],
)
def test_a_garbage_token_is_401(
    token: str, seeded_ti: Attached, api_server: Any, raw: httpx.Client
) -> None:
    client = ExecutionClient(api_server.url, token)
    try:
        with pytest.raises(NotAuthenticatedError, match="invalid task-instance token"):
            client.set_state(TaskInstanceId(seeded_ti.ti_id), "k", b"2", None)
        with pytest.raises(NotAuthenticatedError):
            client.heartbeat(seeded_ti.ti_id)
    finally:
        client.close()
    answer = raw.get(
        f"/execution/state/ti/{seeded_ti.ti_id}/k", headers={"authorization": f"Bearer {token}"}
    )
    error_of(answer, 401, "not_authenticated")
    assert stored(seeded_ti.client, seeded_ti.ti_id, "k") == 1


def _scope_of(run: Run, task_id: str) -> TaskScope:
    return TaskScope(run.dag_id, run.run_id, task_id, -1)


@pytest.fixture
def short_ttl_server(make_settings: Callable[..., Any]) -> Any:
    settings = make_settings(
        TASKSTATE__API__TOKEN_TTL_SECONDS="1", TASKSTATE__WORKERS__HEARTBEAT_INTERVAL="0.3"
    )
    with EmbeddedServer(settings) as server:
        yield server


def test_tokens_live_for_token_ttl_seconds(short_ttl_server: EmbeddedServer) -> None:
    settings = short_ttl_server.settings
    with PublicClient(short_ttl_server.url, client_api_key(settings)) as public:
        created = public.create_run({"dag_id": "d", "run_id": "r", "tasks": [{"task_id": "t"}]})
        token = public.queue_task_instance(created["task_instances"][0]["id"])["token"]
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 1


def test_an_expired_token_is_401(short_ttl_server: EmbeddedServer) -> None:
    settings = short_ttl_server.settings
    with PublicClient(short_ttl_server.url, client_api_key(settings)) as public:
        created = public.create_run({"dag_id": "d", "run_id": "r", "tasks": [{"task_id": "t"}]})
        ti_id = created["task_instances"][0]["id"]
        public.queue_task_instance(ti_id)
    # Both signed with the server's own key: one valid for a minute (the server's own 1 s
    # would run out on a busy machine before it is used), one whose exp lies in the past.
    scope = TaskScope("d", "r", "t", -1)
    fresh = TokenSigner(server_secret_key(settings), ttl_seconds=60)
    valid = ExecutionClient(short_ttl_server.url, fresh.issue(ti_id, scope, {}, try_number=1))
    expired_signer = TokenSigner(server_secret_key(settings), ttl_seconds=-10)
    expired = expired_signer.issue(ti_id, scope, {}, try_number=1)
    assert jwt.decode(expired, options={"verify_signature": False})["exp"] < time.time()
    client = ExecutionClient(short_ttl_server.url, expired)
    try:
        valid.start(ti_id, pid=1, hostname="h")
        valid.set_state(TaskInstanceId(ti_id), "k", b"1", None)
        with pytest.raises(NotAuthenticatedError, match="expired") as info:
            client.set_state(TaskInstanceId(ti_id), "k", b"2", None)
        assert info.value.status == 401
        with pytest.raises(NotAuthenticatedError, match="expired"):
            client.heartbeat(ti_id)  # an expired token cannot be renewed either
        with httpx.Client(base_url=short_ttl_server.url) as raw:
            answer = raw.get(
                f"/execution/state/ti/{ti_id}/k", headers={"authorization": f"Bearer {expired}"}
            )
        assert error_of(answer, 401, "not_authenticated")["message"] == (
            "the task-instance token has expired"
        )
        assert msgspec.json.decode(valid.get_state(TaskInstanceId(ti_id), "k").value) == 1  # type: ignore[arg-type]
    finally:
        client.close()
        valid.close()


def test_a_token_signed_with_another_secret_is_401(
    seeded_ti: Attached, run: Run, api_server: Any
) -> None:
    forged = TokenSigner("another-secret-" + "x" * 32, ttl_seconds=600).issue(
        seeded_ti.ti_id, _scope_of(run, "submit"), {}, try_number=1
    )
    client = ExecutionClient(api_server.url, forged)
    try:
        with pytest.raises(NotAuthenticatedError, match="invalid task-instance token"):
            client.set_state(TaskInstanceId(seeded_ti.ti_id), "k", b"2", None)
    finally:
        client.close()
    assert stored(seeded_ti.client, seeded_ti.ti_id, "k") == 1


def test_a_token_cannot_widen_its_own_assets(
    seeded_ti: Attached, run: Run, api_server: Any
) -> None:
    # Claims come from the signed payload only; a token the server signed grants what it says.
    signer = TokenSigner(server_secret_key(api_server.settings), ttl_seconds=600)
    token = signer.issue(seeded_ti.ti_id, _scope_of(run, "submit"), {}, try_number=1)
    client = ExecutionClient(api_server.url, token)
    try:
        assert stored(client, seeded_ti.ti_id, "k") == 1
        with pytest.raises(UndeclaredAssetError):
            client.get_state(AssetNamed("orders"), "k")
    finally:
        client.close()


def test_an_api_key_is_not_a_task_instance_token(
    seeded_ti: Attached, api_server: Any, raw: httpx.Client
) -> None:
    answer = raw.get(
        f"/execution/state/ti/{seeded_ti.ti_id}/k",
        headers={"authorization": f"Bearer {api_server.api_key}"},
    )
    error_of(answer, 401, "not_authenticated")


# -- the public API ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/api/v1/dag-runs", "GET"),
        ("/api/v1/assets", "GET"),
        ("/api/v1/task-state?dag_id=etl", "GET"),
        ("/api/v1/task-state/k?dag_id=etl&run_id=run_1&task_id=submit", "PUT"),
        ("/api/v1/task-state?dag_id=etl&run_id=run_1&task_id=submit", "DELETE"),
        ("/api/v1/asset-state?name=orders", "DELETE"),
    ],
)
def test_the_public_api_needs_an_api_key(
    path: str, method: str, seeded_ti: Attached, raw: httpx.Client, public: PublicClient
) -> None:
    missing = raw.request(method, path, json={"value": 2})
    assert "API key" in error_of(missing, 401, "not_authenticated")["message"]
    wrong = raw.request(
        method, path, headers={"authorization": "Bearer wrong-key"}, json={"value": 2}
    )
    assert error_of(wrong, 401, "not_authenticated")["message"] == "invalid API key"
    token = raw.request(method, path, headers=seeded_ti.headers, json={"value": 2})
    assert "task-instance token" in error_of(token, 403, "permission_denied")["message"]
    assert public.get_task_state("etl", "run_1", "submit", "k")["value"] == 1


def test_the_public_client_raises_the_auth_errors(api_server: Any, seeded_ti: Attached) -> None:
    with PublicClient(api_server.url, "wrong-key") as client, pytest.raises(NotAuthenticatedError):
        client.list_runs()
    with (
        PublicClient(api_server.url, seeded_ti.token) as client,
        pytest.raises(PermissionDeniedError) as info,
    ):
        client.list_runs()
    assert info.value.status == 403


def test_an_expired_token_on_the_public_api_is_just_a_wrong_key(
    api_server: Any, seeded_ti: Attached, run: Run, raw: httpx.Client
) -> None:
    expired = TokenSigner(server_secret_key(api_server.settings), ttl_seconds=-10).issue(
        seeded_ti.ti_id, _scope_of(run, "submit"), {}, try_number=1
    )
    answer = raw.get("/api/v1/dag-runs", headers={"authorization": f"Bearer {expired}"})
    error_of(answer, 401, "not_authenticated")


def test_configured_api_keys_replace_the_local_one(make_settings: Callable[..., Any]) -> None:
    settings = make_settings(TASKSTATE__API__API_KEYS='["key-one", "key-two"]')
    with EmbeddedServer(settings) as server, httpx.Client(base_url=server.url) as raw:
        for key in ("key-one", "key-two"):
            ok = raw.get("/api/v1/dag-runs", headers={"authorization": f"Bearer {key}"})
            assert ok.status_code == 200 and ok.json() == []
        # The scheme is case-insensitive, as RFC 9110 says.
        lower = raw.get("/api/v1/dag-runs", headers={"authorization": "bearer key-one"})
        assert lower.status_code == 200
        refused = raw.get("/api/v1/dag-runs", headers={"authorization": "Bearer key-three"})
        error_of(refused, 401, "not_authenticated")
    assert not (settings.home / "api_key").exists()


@pytest.mark.parametrize("secret", ["short", "x" * 31])
def test_a_short_secret_key_is_refused_at_start(
    secret: str, make_settings: Callable[..., Any]
) -> None:
    settings = make_settings(TASKSTATE__API__SECRET_KEY=secret)
    with pytest.raises(ConfigError, match=r"\[api\] secret_key is \d+ bytes long") as info:
        EmbeddedServer(settings).__enter__()
    assert info.value.detail["setting"] == "[api] secret_key"
    assert secret not in info.value.message


def test_a_configured_secret_key_signs_the_tokens(make_settings: Callable[..., Any]) -> None:
    secret = "s" * 32
    settings = make_settings(TASKSTATE__API__SECRET_KEY=secret)
    with (
        EmbeddedServer(settings) as server,
        PublicClient(server.url, client_api_key(settings)) as public,
    ):
        created = public.create_run({"dag_id": "d", "run_id": "r", "tasks": [{"task_id": "t"}]})
        token = public.queue_task_instance(created["task_instances"][0]["id"])["token"]
    claims = jwt.decode(token, secret, algorithms=["HS256"], audience="taskstate:execution")
    assert (claims["dag_id"], claims["run_id"], claims["task_id"]) == ("d", "r", "t")
    assert not (settings.home / "secret_key").exists()


def test_health_needs_no_credentials(raw: httpx.Client) -> None:
    answer = raw.get("/health")
    assert answer.status_code == 200
    assert answer.json()["status"] == "ok"
