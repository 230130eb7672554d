"""The guard in front of both APIs: credentials and size from the headers, before the body."""

from __future__ import annotations

from typing import Any

import httpx

from .conftest import error_of


def test_health_and_the_documents_need_no_credentials(raw: httpx.Client) -> None:
    assert raw.get("/health").status_code == 200
    for name in ("public", "execution"):
        assert raw.get(f"/openapi/{name}.json").json()["paths"]


def test_a_refusal_without_a_body_keeps_the_connection(raw: httpx.Client) -> None:
    answer = raw.get("/api/v1/dag-runs")
    error_of(answer, 401, "not_authenticated")
    assert answer.headers.get("connection") != "close"


def test_a_refusal_with_a_body_closes_the_connection_unread(raw: httpx.Client) -> None:
    answer = raw.post("/api/v1/dag-runs", content=b"{}" * 1000)
    error_of(answer, 401, "not_authenticated")
    assert answer.headers["connection"] == "close"


def test_a_body_at_the_limit_passes_and_one_byte_more_is_refused(
    raw: httpx.Client, api_headers: dict[str, str], api_server: Any
) -> None:
    limit = api_server.settings.api.max_body_bytes
    at_limit = b"{" + b" " * (limit - 2) + b"}"
    answer = raw.post("/api/v1/purge-queue/claim", content=at_limit, headers=api_headers)
    error_of(answer, 400, "usage_error")  # read whole, then found to lack its ids
    over = raw.post("/api/v1/purge-queue/claim", content=at_limit + b" ", headers=api_headers)
    body = error_of(over, 413, "body_too_large")
    assert body["detail"] == {"limit": limit, "size": limit + 1}


def test_a_nul_in_a_query_is_refused_before_the_route(
    raw: httpx.Client, api_headers: dict[str, str]
) -> None:
    answer = raw.get("/api/v1/dag-runs", params={"dag_id": "a\x00b"}, headers=api_headers)
    error_of(answer, 400, "invalid_value")
