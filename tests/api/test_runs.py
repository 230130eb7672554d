"""The run registry under concurrent requests: runs registered at once, through the real server.

On PostgreSQL (``pytest --database=postgres``) the server's transactions interleave, so a
select-then-insert would let two of them both find a row missing and both insert it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from taskstate.client.public import PublicClient
from taskstate.errors import ConflictError

REQUESTS = 8
FRESH = {"name": "fresh", "uri": "s3://lake/fresh"}


def _at_once(api_server: Any, call: Callable[[PublicClient, int], Any]) -> list[Any]:
    """``call(client, i)`` for i in range(REQUESTS), each on its own connection, released
    together; the results, or the exceptions raised."""
    ready = threading.Barrier(REQUESTS)

    def one(i: int) -> Any:
        with api_server.public() as client:
            client.list_runs()  # the connection is open before the barrier
            ready.wait(timeout=30)
            try:
                return call(client, i)
            except ConflictError as exc:
                return exc

    with ThreadPoolExecutor(REQUESTS) as pool:
        return list(pool.map(one, range(REQUESTS)))


def test_runs_declaring_the_same_new_asset_at_once_all_register(api_server: Any) -> None:
    def create(client: PublicClient, i: int) -> Any:
        tasks = [{"task_id": "t", "inlets": [FRESH]}, {"task_id": "u", "outlets": [FRESH]}]
        return client.create_run({"dag_id": "d", "run_id": f"r{i}", "tasks": tasks})

    results = _at_once(api_server, create)
    assert [type(r) for r in results] == [dict] * REQUESTS, results
    with api_server.public() as client:
        assert len(client.list_runs()) == REQUESTS
        client.set_asset_state("fresh", "k", 1)  # the one asset every run declared
        assert client.get_asset_state("fresh", "k")["value"] == 1


def test_the_same_run_registered_at_once_is_created_once(api_server: Any) -> None:
    def create(client: PublicClient, i: int) -> Any:
        return client.create_run({"dag_id": "d", "run_id": "r", "tasks": [{"task_id": "t"}]})

    results = _at_once(api_server, create)
    conflicts = [r for r in results if isinstance(r, ConflictError)]
    assert len(conflicts) == REQUESTS - 1, results
    assert all("already has a run 'r'" in c.message for c in conflicts)


@pytest.mark.parametrize(
    ("asset", "message"),
    [
        ({"name": "fresh", "uri": "s3://lake/other"}, "asset 'fresh' is registered with uri"),
        ({"name": "other", "uri": "s3://lake/fresh"}, "already belongs to asset 'fresh'"),
    ],
)
def test_a_clash_with_a_registered_asset_is_a_conflict(
    api_server: Any, asset: dict[str, str], message: str
) -> None:
    with api_server.public() as client:
        client.create_run(
            {"dag_id": "d", "run_id": "r1", "tasks": [{"task_id": "t", "inlets": [FRESH]}]}
        )
        with pytest.raises(ConflictError, match=message):
            client.create_run(
                {"dag_id": "d", "run_id": "r2", "tasks": [{"task_id": "t", "inlets": [asset]}]}
            )
        assert [run["run_id"] for run in client.list_runs()] == ["r1"]
