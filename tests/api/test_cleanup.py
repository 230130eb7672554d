"""The clean-up of expired keys: the routes ``taskstate state clean`` uses, the batches and the
purge-queue entries they leave, the periodic clean-up of the server, and its failures."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from taskstate.api import cleanup
from taskstate.api.app import AppState, build_state, in_transaction
from taskstate.api.keys import client_api_key
from taskstate.api.run_creation import NewRun, create_run
from taskstate.api.runs import TaskSpec
from taskstate.api.server import EmbeddedServer
from taskstate.client.execution import ExecutionClient
from taskstate.client.public import PublicClient
from taskstate.config import Settings
from taskstate.contracts.scopes import AssetNamed, TaskInstanceId
from taskstate.errors import BackendError
from taskstate.state import BaseStateBackend, ExpiredBatch, StoredValue, TaskScope
from taskstate.testing.redis import available_server_url, temporary_prefix

from .conftest import Attached, Run, error_of

Attach = Callable[..., Attached]
WORKER = "tests_backend.ObjectBackend"
BRIEF = 0.001


def expire_some(ti: Attached, inline: int, refs: int) -> list[tuple[str, str, str]]:
    """Store ``inline`` values and ``refs`` references in the task's state and in asset
    ``orders`` (alternately), all expired when this returns; the references stored, as the
    purge queue lists them."""
    stored = []
    for i in range(inline + refs):
        kind = "asset" if i % 2 else "task"
        data, backend = (b"1", None) if i < inline else (f"mem://{i}".encode(), WORKER)
        if backend is not None:
            stored.append((kind, data.decode(), backend))
        if kind == "asset":
            ti.client.set_state(AssetNamed("orders"), f"k{i}", data, backend, retention=BRIEF)
        else:
            ti.client.set_state(TaskInstanceId(ti.ti_id), f"k{i}", data, backend, retention=BRIEF)
    time.sleep(BRIEF + 0.002)  # the retention itself must run out
    return sorted(stored)


def queued(public: PublicClient) -> list[tuple[str, str, str]]:
    return sorted((e["kind"], e["ref"], e["backend"]) for e in public.list_purge_queue(limit=1000))


@pytest.fixture(autouse=True)
def nothing_expired(public: PublicClient) -> None:
    """Start from a server with no expired key and an empty purge queue."""
    while public.clean_expired()["removed"]:
        pass
    if entries := public.list_purge_queue(limit=1000):
        answer = public.claim_purge([e["id"] for e in entries])
        if answer["claim"] is not None:
            public.release_purge(answer["claim"])


@pytest.fixture
def load(run: Run, attach: Attach) -> Attached:
    return attach(run.ti_id("load"))


# -- the routes -----------------------------------------------------------------------------------


def test_a_dry_run_counts_and_changes_nothing(load: Attached, public: PublicClient) -> None:
    expire_some(load, inline=2, refs=2)
    load.client.set_state(TaskInstanceId(load.ti_id), "live", b"1", None, retention=3600)
    assert public.count_expired() == 4
    answer = public.clean_expired(dry_run=True)
    assert answer == {
        "dry_run": True,
        "batch_size": 1000,
        "expired": 4,
        "removed": 0,
        "references_queued": 0,
    }
    assert public.count_expired() == 4
    assert queued(public) == []


def test_clean_removes_a_batch_at_a_time_and_queues_the_references(
    run: Run, load: Attached, public: PublicClient
) -> None:
    refs = expire_some(load, inline=3, refs=4)
    load.client.set_state(TaskInstanceId(load.ti_id), "live", b"1", None)
    answers = []
    while not answers or answers[-1]["removed"] == 3:
        answers.append(public.clean_expired(batch_size=3))
    assert [(a["removed"], a["batch_size"]) for a in answers] == [(3, 3), (3, 3), (1, 3)]
    assert sum(a["references_queued"] for a in answers) == 4
    assert queued(public) == refs
    assert public.count_expired() == 0
    assert [e["key"] for e in public.list_task_state(run.dag_id, run.run_id, "load")] == ["live"]


def test_a_cleaned_reference_is_purged_unless_its_key_was_set_again(
    load: Attached, public: PublicClient
) -> None:
    # The purge asks whether a queued reference is stored again before removing its object.
    load.client.set_state(TaskInstanceId(load.ti_id), "k", b"mem://same", WORKER, retention=BRIEF)
    time.sleep(BRIEF + 0.002)
    assert public.clean_expired()["references_queued"] == 1
    load.client.set_state(TaskInstanceId(load.ti_id), "k2", b"mem://same", WORKER)
    (entry,) = public.list_purge_queue()
    assert public.claim_purge([entry["id"]]) == {"claim": None, "entries": [], "superseded": 1}


@pytest.mark.parametrize("batch_size", [0, -1, 100_001, "many"])
def test_a_bad_batch_size_is_refused(
    batch_size: Any, raw: httpx.Client, api_headers: dict[str, str]
) -> None:
    answer = raw.post("/api/v1/state/clean", params={"batch_size": batch_size}, headers=api_headers)
    assert "batch_size" in error_of(answer, 400, "usage_error")["message"]


def test_the_routes_need_an_api_key(raw: httpx.Client, load: Attached) -> None:
    error_of(raw.get("/api/v1/state/expired"), 401, "not_authenticated")
    error_of(raw.post("/api/v1/state/clean", headers=load.headers), 403, "permission_denied")


# -- a backend that cannot expire keys -----------------------------------------------------------


class NoExpiryBackend(BaseStateBackend):
    """A server-side backend that keeps the interface's default: it cannot expire keys."""

    def get(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    set = delete = clear = aget = aset = adelete = aclear = get


def test_a_backend_that_cannot_expire_keys_says_so(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings(TASKSTATE__STATE_STORE__BACKEND=f"{__name__}.NoExpiryBackend")
    with (
        EmbeddedServer(settings) as server,
        PublicClient(server.url, client_api_key(settings)) as public,
    ):
        for call in (public.count_expired, public.clean_expired):
            with pytest.raises(BackendError, match="NoExpiryBackend cannot remove expired keys"):
                call()
    state = build_state(settings)
    try:
        # The periodic clean-up does not even start.
        asyncio.run(asyncio.wait_for(cleanup.run_periodically(state, interval=3600, limit=1), 5))
    finally:
        asyncio.run(state.database.adispose())


# -- the periodic clean-up ------------------------------------------------------------------------


@contextmanager
def own_server(settings: Settings) -> Iterator[tuple[PublicClient, Attached]]:
    """A server of ``settings`` with one queued task instance that declares asset ``orders``."""
    with (
        EmbeddedServer(settings) as server,
        PublicClient(server.url, client_api_key(settings)) as public,
    ):
        created = public.create_run(
            {
                "dag_id": "d",
                "run_id": "r",
                "tasks": [{"task_id": "t", "inlets": [{"name": "orders", "uri": "s3://o"}]}],
            }
        )
        ti_id = created["task_instances"][0]["id"]
        token = public.queue_task_instance(ti_id)["token"]
        with_token = ExecutionClient(server.url, token)
        try:
            yield public, Attached(ti_id, token, with_token, {})
        finally:
            with_token.close()


def test_the_server_cleans_periodically(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(
        TASKSTATE__STATE_STORE__CLEANUP_INTERVAL_SECONDS="0.05",
        TASKSTATE__STATE_STORE__CLEANUP_BATCH_SIZE="2",
    )
    with own_server(settings) as (public, ti):
        refs = expire_some(ti, inline=3, refs=2)
        deadline = time.monotonic() + 20
        while public.count_expired() and time.monotonic() < deadline:
            time.sleep(0.02)  # polling the server's own schedule: no event reaches the test
        assert public.count_expired() == 0
        assert queued(public) == refs


@pytest.mark.redis
def test_a_redis_backend_is_cleaned_and_its_references_queued(
    make_settings: Callable[..., Settings],
) -> None:
    url = available_server_url()
    with temporary_prefix(url) as prefix:
        settings = make_settings(
            TASKSTATE__STATE_STORE__BACKEND="redis",
            TASKSTATE__STATE_STORE__BACKEND_KWARGS=json.dumps(
                {"url": url, "prefix": prefix, "allow_volatile": True}
            ),
        )
        with own_server(settings) as (public, ti):
            refs = expire_some(ti, inline=3, refs=2)
            assert public.count_expired() == 5
            first = public.clean_expired(batch_size=2)
            assert (first["removed"], first["batch_size"]) == (2, 2)
            while public.clean_expired(batch_size=2)["removed"]:
                pass
            assert public.count_expired() == 0
            assert queued(public) == refs


@pytest.mark.parametrize(
    "server_backend", ["metastore", pytest.param("redis", marks=pytest.mark.redis)]
)
def test_a_public_set_over_a_reference_queues_its_object(
    make_settings: Callable[..., Settings], server_backend: str
) -> None:
    """Every path that replaces a reference queues it: here the public API's set."""
    with contextlib.ExitStack() as stack:
        env: dict[str, str] = {}
        if server_backend == "redis":
            url = available_server_url()
            prefix = stack.enter_context(temporary_prefix(url))
            env["TASKSTATE__STATE_STORE__BACKEND"] = "redis"
            env["TASKSTATE__STATE_STORE__BACKEND_KWARGS"] = json.dumps(
                {"url": url, "prefix": prefix, "allow_volatile": True}
            )
        public, ti = stack.enter_context(own_server(make_settings(**env)))
        ti.client.set_state(TaskInstanceId(ti.ti_id), "k", b"mem://old", WORKER)
        ti.client.set_state(AssetNamed("orders"), "k", b"mem://asset-old", WORKER)
        public.set_task_state("d", "r", "t", "k", {"inline": True})
        public.set_asset_state("orders", "k", 2)
        old = [("asset", "mem://asset-old", WORKER), ("task", "mem://old", WORKER)]
        assert queued(public) == old
        # Setting the same reference again replaces nothing.
        ti.client.set_state(TaskInstanceId(ti.ti_id), "j", b"mem://same", WORKER)
        ti.client.set_state(TaskInstanceId(ti.ti_id), "j", b"mem://same", WORKER)
        assert len(queued(public)) == 2


@pytest.fixture
def app_state(settings: Settings) -> Iterator[AppState]:
    """The API server's state in this process, with an empty task instance ``d/r/t``."""
    state = build_state(settings)
    asyncio.run(
        in_transaction(state, lambda s: create_run(s, NewRun.checked("d", "r", [TaskSpec("t")])))
    )
    yield state
    asyncio.run(state.database.adispose())


def test_a_failed_clean_up_is_logged_and_the_next_one_runs(
    app_state: AppState, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    backend = app_state.state.backend
    scope = TaskScope("d", "r", "t")
    past = datetime.now(UTC) - timedelta(seconds=1)
    for key in ("a", "b", "c"):
        backend.set(scope, key, StoredValue(f"mem://{key}", WORKER, expires_at=past))
    real = backend.delete_expired
    calls: list[int] = []

    def flaky(*, now: datetime, limit: int, session: Any = None) -> ExpiredBatch:
        calls.append(limit)
        if len(calls) == 1:
            raise BackendError("the database is away")
        return real(now=now, limit=limit, session=session)

    monkeypatch.setattr(backend, "delete_expired", flaky)
    reports: list[cleanup.CleanReport | None] = []

    async def scenario() -> None:
        done = asyncio.Event()

        def on_pass(report: cleanup.CleanReport | None) -> None:
            reports.append(report)
            if len(reports) == 2:
                done.set()

        task = asyncio.create_task(
            cleanup.run_periodically(app_state, interval=0.01, limit=2, on_pass=on_pass)
        )
        await asyncio.wait_for(done.wait(), 10)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    with caplog.at_level(logging.INFO, logger="taskstate.api.cleanup"):
        asyncio.run(scenario())
    assert reports == [None, cleanup.CleanReport(removed=3, queued=3, batches=2)]
    assert "the clean-up of expired keys failed" in caplog.text
    assert "the database is away" in caplog.text
    assert "removed 3 expired keys, queued 3 references for purging" in caplog.text
    assert backend.count_expired(now=datetime.now(UTC)) == 0
