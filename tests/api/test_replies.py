"""Idempotency keys (``taskstate.api.replies``): a POST or PATCH repeated with its key gets
the first reply again, and its work is done once."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

RUN = {"dag_id": "d", "run_id": "r", "tasks": [{"task_id": "t", "retries": 1}]}


@pytest.fixture
def http(api_server: Any) -> Iterator[httpx.Client]:
    headers = {"authorization": f"Bearer {api_server.api_key}"}
    with httpx.Client(base_url=api_server.url, headers=headers) as client:
        yield client


def _keyed(key: str) -> dict[str, str]:
    return {"idempotency-key": key}


def test_a_repeated_run_creation_is_answered_with_the_first_reply(http: httpx.Client) -> None:
    first = http.post("/api/v1/dag-runs", json=RUN, headers=_keyed("create-1"))
    again = http.post("/api/v1/dag-runs", json=RUN, headers=_keyed("create-1"))
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replay"] == "true"
    assert "idempotent-replay" not in first.headers
    # Without the key, the same request is a new one, refused: the run exists.
    assert http.post("/api/v1/dag-runs", json=RUN).status_code == 409


def test_a_repeated_queue_and_start_do_one_try(http: httpx.Client) -> None:
    ti_id = http.post("/api/v1/dag-runs", json=RUN).json()["task_instances"][0]["id"]
    queued = [http.post(f"/api/v1/task-instances/{ti_id}/queue", headers=_keyed("q")) for _ in "12"]
    assert queued[0].json() == queued[1].json()
    token = queued[0].json()["token"]
    execution = {"authorization": f"Bearer {token}", **_keyed("s")}
    body = {"pid": 1, "hostname": "h"}
    started = [
        http.post(f"/execution/task-instances/{ti_id}/start", json=body, headers=execution)
        for _ in "12"
    ]
    assert [s.status_code for s in started] == [200, 200]
    assert started[0].content == started[1].content
    ti = http.get(f"/api/v1/task-instances/{ti_id}").json()
    assert (ti["state"], ti["try_number"]) == ("running", 1)


def test_an_error_reply_is_replayed_too(http: httpx.Client) -> None:
    replies = [http.post("/api/v1/task-instances/nope/queue", headers=_keyed("e")) for _ in "12"]
    assert [r.status_code for r in replies] == [404, 404]
    assert replies[0].json() == replies[1].json()


def test_a_key_is_for_one_request(http: httpx.Client) -> None:
    http.post("/api/v1/dag-runs", json=RUN, headers=_keyed("k"))
    other = http.patch("/api/v1/dag-runs/d/r", json={"state": "failed"}, headers=_keyed("k"))
    assert other.status_code == 400
    assert other.json()["code"] == "usage_error"
    assert "was used for another request (POST /api/v1/dag-runs)" in other.json()["message"]


def test_a_reply_is_replayed_to_its_caller_only(http: httpx.Client, api_server: Any) -> None:
    """Another caller (here: no credentials) cannot read a reply by presenting its key."""
    http.post("/api/v1/dag-runs", json=RUN, headers=_keyed("mine"))
    with httpx.Client(base_url=api_server.url) as stranger:
        answer = stranger.post("/api/v1/dag-runs", json=RUN, headers=_keyed("mine"))
    assert answer.status_code == 401
    assert "dag_id" not in answer.text


@pytest.mark.parametrize("key", ["", "x" * 101])
def test_a_malformed_key_is_refused(http: httpx.Client, key: str) -> None:
    answer = http.post("/api/v1/dag-runs", json=RUN, headers=_keyed(key))
    assert answer.status_code == 400
    assert http.get("/api/v1/dag-runs").json() == []


def test_reads_and_state_writes_need_no_key(http: httpx.Client) -> None:
    """GET, PUT and DELETE are idempotent: a key on them is ignored, nothing is stored."""
    http.post("/api/v1/dag-runs", json=RUN)
    params = {"dag_id": "d", "run_id": "r", "task_id": "t"}
    for value in (1, 2):
        answer = http.put(
            "/api/v1/task-state/k", params=params, json={"value": value}, headers=_keyed("p")
        )
        assert answer.status_code == 200
        assert "idempotent-replay" not in answer.headers
    assert http.get("/api/v1/task-state/k", params=params).json()["value"] == 2
