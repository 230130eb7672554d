"""A catalogue of hostile inputs, through the SDK (a task), the CLI and raw HTTP: each answered
with its typed error, and nothing stored changed.

The SDK cases run inside ``dags/hostile_inputs.py``, which checks each error class and that its
own keys are unchanged after every case. The CLI and HTTP cases run against one API server over
the same home; the stored state (runs, task instances, task and asset state, the purge queue,
the assets) is read through the public API before and after them and must be identical.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from taskstate.api.keys import client_api_key
from taskstate.api.server import EmbeddedServer

from .conftest import DAGS

pytestmark = pytest.mark.e2e

DAG_ID = "hostile_inputs"
MAX_VALUE_BYTES = 8192
MAX_BODY_BYTES = 1024 * 1024

SDK_CASES = [
    ("empty key", "InvalidKeyError"),
    ("key of 513", "InvalidKeyError"),
    ("NUL key", "InvalidKeyError"),
    ("newline key", "InvalidKeyError"),
    ("int key", "InvalidKeyError"),
    ("None key", "InvalidKeyError"),
    ("lone surrogate key", "InvalidKeyError"),
    ("None", "InvalidValueError"),
    ("NaN", "InvalidValueError"),
    ("-inf nested", "InvalidValueError"),
    ("lone surrogate value", "InvalidValueError"),
    ("lone surrogate object key", "InvalidValueError"),
    ("NUL in value", "InvalidValueError"),
    ("300 deep", "InvalidValueError"),
    ("100k deep", "InvalidValueError"),
    ("10**5000", "InvalidValueError"),
    ("set", "InvalidValueError"),
    ("bytes", "InvalidValueError"),
    ("over max_value_bytes", "ValueTooLargeError"),
    ("asset None", "InvalidValueError"),
    ("zero retention", "InvalidRetentionError"),
    ("negative retention", "InvalidRetentionError"),
    ("1000 years", "InvalidRetentionError"),
    ("int retention", "InvalidRetentionError"),
    ("unknown asset", "UndeclaredAssetError"),
    ("undeclared asset", "UndeclaredAssetError"),
    ("frame, undeclared get", "UndeclaredAssetError"),
    ("frame, undeclared set", "UndeclaredAssetError"),
    ("frame, null", "InvalidValueError"),
    ("frame, NaN", "InvalidValueError"),
    ("frame, not JSON", "InvalidValueError"),
    ("frame, 100k deep", "InvalidValueError"),
    ("frame, lone surrogate", "InvalidValueError"),
    ("frame, NUL escape", "InvalidValueError"),
    ("frame, invalid UTF-8", "InvalidValueError"),
    ("frame, retention 1e308", "InvalidRetentionError"),
    ("frame, retention -1", "InvalidRetentionError"),
    ("frame, key of 600", "InvalidKeyError"),
]


@dataclass
class Hostile:
    cli: Any
    run: Any
    url: str
    api_key: str
    token: str
    ti_id: str

    @property
    def key_headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.api_key}"}

    @property
    def token_headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}"}


@pytest.fixture(scope="module")
def hostile(make_cli: Callable[..., Any]) -> Iterator[Hostile]:
    cli = make_cli(
        "hostile",
        {
            "TASKSTATE__STATE_STORE__MAX_VALUE_BYTES": str(MAX_VALUE_BYTES),
            "TASKSTATE__API__MAX_BODY_BYTES": str(MAX_BODY_BYTES),
        },
    )
    run = cli.dags_test(DAGS / "hostile_inputs.py", "--run-id", "r1")
    settings = cli.settings()
    with EmbeddedServer(settings) as server:
        api_key = client_api_key(settings)
        headers = {"authorization": f"Bearer {api_key}"}
        created = httpx.post(
            f"{server.url}/api/v1/dag-runs",
            json={
                "dag_id": DAG_ID,
                "run_id": "http",
                "tasks": [
                    {
                        "task_id": "t",
                        "inlets": [{"name": "hostile_mine", "uri": "file:///tmp/hostile-mine"}],
                    }
                ],
            },
            headers=headers,
        )
        assert created.status_code == 201, created.text
        ti_id = created.json()["task_instances"][0]["id"]
        token = httpx.post(
            f"{server.url}/api/v1/task-instances/{ti_id}/queue", headers=headers
        ).json()["token"]
        started = httpx.post(
            f"{server.url}/execution/task-instances/{ti_id}/start",
            json={"pid": os.getpid(), "hostname": "hostile"},
            headers={"authorization": f"Bearer {token}"},
        )
        assert started.status_code == 200, started.text
        put = httpx.put(
            f"{server.url}/execution/state/ti/{ti_id}/k",
            json={"value": {"n": 2}},
            headers={"authorization": f"Bearer {token}"},
        )
        assert put.status_code == 204, put.text
        yield Hostile(cli, run, server.url, api_key, token, ti_id)


def _snapshot(h: Hostile) -> dict[str, Any]:
    """Everything stored, as the public API shows it."""
    with httpx.Client(base_url=h.url, headers=h.key_headers) as client:

        def get(path: str, **params: Any) -> Any:
            answer = client.get(path, params=params)
            assert answer.status_code == 200, answer.text
            return answer.json()

        runs = get("/api/v1/dag-runs")
        return {
            "runs": runs,
            "task_instances": [get(f"/api/v1/dag-runs/{r['dag_id']}/{r['run_id']}") for r in runs],
            "task_state": get("/api/v1/task-state", dag_id=DAG_ID),
            "mine": get("/api/v1/asset-state", name="hostile_mine"),
            "theirs": get("/api/v1/asset-state", name="hostile_theirs"),
            "purge_queue": get("/api/v1/purge-queue"),
            "assets": get("/api/v1/assets"),
        }


def test_each_sdk_case_raises_its_typed_error_in_the_task(hostile: Hostile) -> None:
    run = hostile.run
    assert run.code == 0, str(run)
    checked = [
        tuple(line[len("ok ") :].split(": ", 2)[:2])
        for line in run.lines("attacker")
        if line.startswith("ok ")
    ]
    assert checked == SDK_CASES, str(run)
    assert "hostile inputs: ALL CHECKED" in run.lines("attacker")
    assert hostile.cli.task_keys(DAG_ID, "r1") == {"attacker": {"k": {"n": 1}}}


# -- raw HTTP ---------------------------------------------------------------------------------

DEEP = "[" * 100_000 + "]" * 100_000
BIG = "9" * 400
HUGE = "9" * 4400
RUN_PATH = f"/api/v1/dag-runs/{DAG_ID}/http"
TASK_QUERY = f"dag_id={DAG_ID}&run_id=http&task_id=t"


def _run_body(**task: Any) -> str:
    return json.dumps({"dag_id": DAG_ID, "run_id": "new", "tasks": [{"task_id": "t", **task}]})


# (case, credential, method, path, body text or None, status, code). Credentials: "key" (an API
# key), "token" (the started task instance's), "none", or a header value.
HTTP_CASES: list[tuple[str, str, str, str, str | None, int, str]] = [
    ("no credentials, public", "none", "GET", "/api/v1/dag-runs", None, 401, "not_authenticated"),
    (
        "no credentials, execution",
        "none",
        "GET",
        "/execution/state/ti/x/k",
        None,
        401,
        "not_authenticated",
    ),
    ("garbage bearer", "Bearer nope", "GET", "/api/v1/dag-runs", None, 401, "not_authenticated"),
    ("basic auth", "Basic dXNlcjpwYXNz", "GET", "/api/v1/dag-runs", None, 401, "not_authenticated"),
    ("token on the public API", "token", "GET", "/api/v1/dag-runs", None, 403, "permission_denied"),
    (
        "API key on the execution API",
        "key",
        "GET",
        "/execution/state/ti/x/k",
        None,
        401,
        "not_authenticated",
    ),
    (
        "token for another ti",
        "token",
        "PUT",
        "/execution/state/ti/other/k",
        '{"value": 1}',
        403,
        "permission_denied",
    ),
    (
        "undeclared asset",
        "token",
        "PUT",
        "/execution/state/asset/k?name=hostile_theirs",
        '{"value": 1}',
        403,
        "asset_not_declared",
    ),
    (
        "unknown asset uri",
        "token",
        "GET",
        "/execution/state/asset/k?uri=s3://nope",
        None,
        403,
        "asset_not_declared",
    ),
    (
        "execution: null",
        "token",
        "PUT",
        "/execution/state/ti/{ti}/k",
        '{"value": null}',
        400,
        "invalid_value",
    ),
    (
        "execution: NaN",
        "token",
        "PUT",
        "/execution/state/ti/{ti}/k",
        '{"value": NaN}',
        400,
        "invalid_value",
    ),
    (
        "execution: not JSON",
        "token",
        "PUT",
        "/execution/state/ti/{ti}/k",
        "{value",
        400,
        "invalid_value",
    ),
    (
        "execution: 100k deep",
        "token",
        "PUT",
        "/execution/state/ti/{ti}/k",
        '{"value": ' + DEEP + "}",
        400,
        "invalid_value",
    ),
    (
        "execution: NUL escape",
        "token",
        "PUT",
        "/execution/state/ti/{ti}/k",
        '{"value": "\\u0000"}',
        400,
        "invalid_value",
    ),
    (
        "execution: lone surrogate",
        "token",
        "PUT",
        "/execution/state/ti/{ti}/k",
        '{"value": "\\udfff"}',
        400,
        "invalid_value",
    ),
    (
        "execution: 4400-digit int",
        "token",
        "PUT",
        "/execution/state/ti/{ti}/k",
        '{"value": ' + HUGE + "}",
        400,
        "invalid_value",
    ),
    (
        "execution: 400-digit retention",
        "token",
        "PUT",
        "/execution/state/ti/{ti}/k",
        '{"value": 1, "retention": ' + BIG + "}",
        400,
        "invalid_retention",
    ),
    (
        "execution: -400-digit retention",
        "token",
        "PUT",
        "/execution/state/ti/{ti}/k",
        '{"value": 1, "retention": -' + BIG + "}",
        400,
        "invalid_retention",
    ),
    (
        "execution: 4400-digit retention",
        "token",
        "PUT",
        "/execution/state/ti/{ti}/k",
        '{"value": 1, "retention": ' + HUGE + "}",
        400,
        "invalid_value",
    ),
    (
        "execution: retention true",
        "token",
        "PUT",
        "/execution/state/ti/{ti}/k",
        '{"value": 1, "retention": true}',
        400,
        "invalid_retention",
    ),
    (
        "execution: ref without backend",
        "token",
        "PUT",
        "/execution/state/ti/{ti}/k",
        '{"ref": "r"}',
        400,
        "invalid_value",
    ),
    (
        "execution: NUL in key",
        "token",
        "PUT",
        "/execution/state/ti/{ti}/a%00b",
        '{"value": 1}',
        400,
        "invalid_key",
    ),
    (
        "execution: key of 600",
        "token",
        "PUT",
        "/execution/state/ti/{ti}/" + "k" * 600,
        '{"value": 1}',
        400,
        "invalid_key",
    ),
    (
        "execution: over max_value_bytes",
        "token",
        "PUT",
        "/execution/state/ti/{ti}/k",
        '{"value": "' + "v" * 10_000 + '"}',
        413,
        "value_too_large",
    ),
    (
        "execution: start pid 2**40",
        "token",
        "POST",
        "/execution/task-instances/{ti}/start",
        '{"pid": 1099511627776, "hostname": "h"}',
        400,
        "usage_error",
    ),
    (
        "execution: start pid 2**70",
        "token",
        "POST",
        "/execution/task-instances/{ti}/start",
        '{"pid": 1180591620717411303424, "hostname": "h"}',
        400,
        "usage_error",
    ),
    (
        "execution: xcom map_index 2**40",
        "token",
        "GET",
        "/execution/xcoms/t/k?map_index=1099511627776",
        None,
        400,
        "usage_error",
    ),
    (
        "execution: asset-events limit 2**70",
        "token",
        "GET",
        "/execution/asset-events?name=hostile_mine&limit=" + "9" * 25,
        None,
        400,
        "usage_error",
    ),
    (
        "public: value NaN",
        "key",
        "PUT",
        f"/api/v1/task-state/k?{TASK_QUERY}",
        '{"value": NaN}',
        400,
        "invalid_value",
    ),
    (
        "public: value null",
        "key",
        "PUT",
        f"/api/v1/task-state/k?{TASK_QUERY}",
        '{"value": null}',
        400,
        "invalid_value",
    ),
    (
        "public: not JSON",
        "key",
        "PUT",
        f"/api/v1/task-state/k?{TASK_QUERY}",
        "{value",
        400,
        "invalid_value",
    ),
    (
        "public: 100k deep",
        "key",
        "PUT",
        f"/api/v1/task-state/k?{TASK_QUERY}",
        '{"value": ' + DEEP + "}",
        400,
        "usage_error",
    ),
    (
        "public: 300 deep",
        "key",
        "PUT",
        f"/api/v1/task-state/k?{TASK_QUERY}",
        '{"value": ' + "[" * 300 + "]" * 300 + "}",
        400,
        "invalid_value",
    ),
    (
        "public: lone surrogate",
        "key",
        "PUT",
        f"/api/v1/task-state/k?{TASK_QUERY}",
        '{"value": "\\ud800"}',
        400,
        "invalid_value",
    ),
    (
        "public: 4400-digit int",
        "key",
        "PUT",
        f"/api/v1/task-state/k?{TASK_QUERY}",
        '{"value": ' + HUGE + "}",
        400,
        "usage_error",
    ),
    (
        "public: 400-digit retention",
        "key",
        "PUT",
        f"/api/v1/task-state/k?{TASK_QUERY}",
        '{"value": 1, "retention": ' + BIG + "}",
        400,
        "invalid_retention",
    ),
    (
        "public: negative retention",
        "key",
        "PUT",
        f"/api/v1/task-state/k?{TASK_QUERY}",
        '{"value": 1, "retention": -5}',
        400,
        "invalid_retention",
    ),
    (
        "public: retention forever",
        "key",
        "PUT",
        f"/api/v1/task-state/k?{TASK_QUERY}",
        '{"value": 1, "retention": "forever"}',
        400,
        "invalid_retention",
    ),
    (
        "public: over max_value_bytes",
        "key",
        "PUT",
        f"/api/v1/task-state/k?{TASK_QUERY}",
        '{"value": "' + "v" * 10_000 + '"}',
        413,
        "value_too_large",
    ),
    (
        "public: empty key",
        "key",
        "PUT",
        f"/api/v1/task-state/?{TASK_QUERY}",
        '{"value": 1}',
        400,
        "invalid_key",
    ),
    (
        "public: map_index 2**40",
        "key",
        "GET",
        f"/api/v1/task-state/k?{TASK_QUERY}&map_index=1099511627776",
        None,
        400,
        "usage_error",
    ),
    (
        "public: map_index 400 digits",
        "key",
        "GET",
        f"/api/v1/task-state/k?{TASK_QUERY}&map_index={BIG}",
        None,
        400,
        "usage_error",
    ),
    (
        "public: map_index -2",
        "key",
        "GET",
        f"/api/v1/task-state/k?{TASK_QUERY}&map_index=-2",
        None,
        400,
        "usage_error",
    ),
    (
        "public: bad map index",
        "key",
        "GET",
        f"/api/v1/task-state/k?{TASK_QUERY}&map_index=7",
        None,
        404,
        "not_found",
    ),
    (
        "public: NUL in query",
        "key",
        "GET",
        "/api/v1/dag-runs?dag_id=a%00b",
        None,
        400,
        "invalid_value",
    ),
    ("public: NUL in ti_id", "key", "GET", "/api/v1/task-instances/a%00b", None, 404, "not_found"),
    (
        "public: unknown asset",
        "key",
        "GET",
        "/api/v1/asset-state?name=nope",
        None,
        404,
        "unknown_asset",
    ),
    (
        "public: purge claim done, not a claim",
        "key",
        "POST",
        "/api/v1/purge-queue/claims/..%2E..%2Eetc/done",
        None,
        400,
        "usage_error",
    ),
    (
        "public: purge claim done, 2**70 ids",
        "key",
        "POST",
        "/api/v1/purge-queue/claims/00000000-0000-4000-8000-000000000001/done",
        '{"ids": [1180591620717411303424]}',
        400,
        "usage_error",
    ),
    (
        "execution: purged, not a claim",
        "token",
        "POST",
        "/execution/state/purged/not-a-claim",
        None,
        400,
        "usage_error",
    ),
    (
        "public: purge claim 2**40",
        "key",
        "POST",
        "/api/v1/purge-queue/claim",
        '{"ids": [1099511627776]}',
        400,
        "usage_error",
    ),
    (
        "public: events before_id 2**40",
        "key",
        "GET",
        "/api/v1/assets/hostile_mine/events?before_id=1099511627776",
        None,
        400,
        "usage_error",
    ),
    (
        "run: retries 2**40",
        "key",
        "POST",
        "/api/v1/dag-runs",
        _run_body(retries=2**40),
        400,
        "usage_error",
    ),
    (
        "run: map_index 2**63",
        "key",
        "POST",
        "/api/v1/dag-runs",
        _run_body(map_index=2**63),
        400,
        "usage_error",
    ),
    (
        "run: retry delay NaN",
        "key",
        "POST",
        "/api/v1/dag-runs",
        _run_body().replace('"t"}', '"t", "retry_delay_seconds": NaN}'),
        400,
        "usage_error",
    ),
    (
        "run: NUL in dag_file",
        "key",
        "POST",
        "/api/v1/dag-runs",
        _run_body().replace('"tasks"', '"dag_file": "a\\u0000", "tasks"'),
        400,
        "invalid_value",
    ),
    (
        "run: lone surrogate asset",
        "key",
        "POST",
        "/api/v1/dag-runs",
        _run_body(inlets=[{"name": "\ud800", "uri": "u"}]),
        400,
        "invalid_value",
    ),
    (
        "run: bad task id",
        "key",
        "POST",
        "/api/v1/dag-runs",
        _run_body(task_id="a b"),
        400,
        "invalid_identifier",
    ),
    (
        "run: exists",
        "key",
        "POST",
        "/api/v1/dag-runs",
        _run_body().replace('"new"', '"http"'),
        409,
        "conflict",
    ),
    ("run: not JSON", "key", "POST", "/api/v1/dag-runs", "{x", 400, "invalid_value"),
    (
        "run: 100k deep conf",
        "key",
        "POST",
        "/api/v1/dag-runs",
        _run_body().replace('"tasks"', '"conf": {"a": ' + DEEP + '}, "tasks"'),
        400,
        "usage_error",
    ),
    (
        "run: finish state 1k chars",
        "key",
        "PATCH",
        RUN_PATH,
        json.dumps({"state": "x" * 1000}),
        400,
        "usage_error",
    ),
    (
        "run: delete unknown",
        "key",
        "DELETE",
        f"/api/v1/dag-runs/{DAG_ID}/nope",
        None,
        404,
        "not_found",
    ),
    (
        "body over max_body_bytes",
        "key",
        "POST",
        "/api/v1/dag-runs",
        " " * (MAX_BODY_BYTES + 1),
        413,
        "body_too_large",
    ),
]


def _headers(h: Hostile, credential: str) -> dict[str, str]:
    if credential == "key":
        return h.key_headers
    if credential == "token":
        return h.token_headers
    if credential == "none":
        return {}
    return {"authorization": credential}


@pytest.mark.timeout(120)
def test_each_http_case_answers_its_typed_error_and_changes_nothing(hostile: Hostile) -> None:
    before = _snapshot(hostile)
    wrong: list[str] = []
    with httpx.Client(base_url=hostile.url, timeout=30) as client:
        for case, credential, method, path, body, status, code in HTTP_CASES:
            answer = client.request(
                method,
                path.replace("{ti}", hostile.ti_id),
                content=None if body is None else body.encode("utf-8", "surrogatepass"),
                headers={**_headers(hostile, credential), "content-type": "application/json"},
            )
            try:
                got = answer.json()
            except ValueError:
                got = {"text": answer.text[:200]}
            if (
                answer.status_code != status
                or got.get("code") != code
                or set(got) != {"code", "message", "detail"}
            ):
                wrong.append(f"{case}: {answer.status_code} {got}"[:300])
    assert not wrong, "\n".join(wrong)
    assert _snapshot(hostile) == before
    assert len(HTTP_CASES) >= 60


def _raw_request(url: str, head: bytes, body: bytes = b"") -> tuple[int, bytes]:
    """Send ``head`` (and ``body``) on a plain socket; the status and body of the answer."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(head + body)
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    status = int(answer.split(b" ", 2)[1])
    return status, answer.partition(b"\r\n\r\n")[2]


def test_a_large_unauthenticated_body_is_refused_before_it_is_sent(hostile: Hostile) -> None:
    head = (
        b"POST /api/v1/dag-runs HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
        b"content-length: 104857600\r\n\r\n"
    )
    status, body = _raw_request(hostile.url, head)  # not one byte of the 100 MB is sent
    assert status == 401 and json.loads(body)["code"] == "not_authenticated"


def test_a_declared_oversize_body_is_refused_before_it_is_sent(hostile: Hostile) -> None:
    head = (
        f"POST /api/v1/dag-runs HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {hostile.api_key}"
        "\r\ncontent-type: application/json\r\ncontent-length: 104857600\r\n\r\n"
    ).encode()
    status, body = _raw_request(hostile.url, head)
    assert status == 413 and json.loads(body)["code"] == "body_too_large"


def test_a_chunked_oversize_body_is_refused_at_the_limit(hostile: Hostile) -> None:
    head = (
        f"PUT /api/v1/task-state/k?{TASK_QUERY} HTTP/1.1\r\nhost: x\r\n"
        f"authorization: Bearer {hostile.api_key}\r\ncontent-type: application/json\r\n"
        "transfer-encoding: chunked\r\n\r\n"
    ).encode()
    chunk = b"x" * 32768
    chunks = (b"%x\r\n" % len(chunk) + chunk + b"\r\n") * (MAX_BODY_BYTES // len(chunk) + 2)
    status, body = _raw_request(hostile.url, head, chunks)
    assert status == 413 and json.loads(body)["code"] == "body_too_large"


# -- CLI --------------------------------------------------------------------------------------

TASK_ARGS = ["--dag-id", DAG_ID, "--run-id", "http", "--task-id", "t"]
CLI_CASES: list[tuple[str, list[str], str]] = [
    ("value NaN", ["state", "set", "k", "NaN", *TASK_ARGS], "not a JSON"),
    ("value not JSON", ["state", "set", "k", "{x", *TASK_ARGS], "JSON"),
    ("value null", ["state", "set", "k", "null", *TASK_ARGS], "None cannot be stored"),
    (
        "value over the limit",
        ["state", "set", "k", '"' + "v" * 10_000 + '"', *TASK_ARGS],
        "max_value_bytes",
    ),
    ("value lone surrogate", ["state", "set", "k", '"\\ud800"', *TASK_ARGS], "surrogate"),
    ("value 5000 deep", ["state", "set", "k", "[" * 5000 + "]" * 5000, *TASK_ARGS], "nested"),
    ("empty key", ["state", "set", "", "1", *TASK_ARGS], "must not be empty"),
    ("key of 513", ["state", "get", "k" * 513, *TASK_ARGS], "at most 512"),
    (
        "negative retention",
        ["state", "set", "k", "1", "--retention", "-5", *TASK_ARGS],
        "retention",
    ),
    (
        "400-digit retention",
        ["state", "set", "k", "1", "--retention", BIG, *TASK_ARGS],
        "retention",
    ),
    ("unknown asset", ["state", "set", "k", "1", "--asset", "nope"], "no asset"),
    (
        "unknown run",
        ["state", "get", "k", "--dag-id", DAG_ID, "--run-id", "nope", "--task-id", "t"],
        "no task instance",
    ),
    ("map index 2**40", ["state", "get", "k", *TASK_ARGS, "--map-index", str(2**40)], "map_index"),
]


@pytest.mark.timeout(240)
def test_each_cli_case_fails_with_a_typed_error_and_changes_nothing(hostile: Hostile) -> None:
    before = _snapshot(hostile)
    wrong: list[str] = []
    for case, args, message in CLI_CASES:
        result = hostile.cli.run(*args, "--api-url", hostile.url)
        if (
            result.code != 2
            or "error:" not in result.stderr
            or message not in result.stderr
            or "Traceback" in result.stderr
        ):
            wrong.append(f"{case}: exit {result.code}: {result.stderr.strip()[:300]}")
    assert not wrong, "\n".join(wrong)
    assert _snapshot(hostile) == before


def test_the_catalogue_holds_at_least_60_hostile_inputs() -> None:
    assert len(SDK_CASES) + len(HTTP_CASES) + len(CLI_CASES) + 3 >= 60
    assert len(HTTP_CASES) >= 60
