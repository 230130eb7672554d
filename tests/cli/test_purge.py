"""``taskstate.cli.purge`` against a real API server: failures, superseded entries, dry runs."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest

from taskstate.cli.purge import drain_queue, sweep_orphans
from taskstate.client.execution import ExecutionClient
from taskstate.client.public import PublicClient
from taskstate.contracts.scopes import TaskInstanceId
from taskstate.runtime.worker_backend import TaskOwner, WorkerBackend
from taskstate.state import BaseStateBackend, BaseStoreBackend, TaskScope

WORKER = f"{__name__}.RecordingBackend"


class RecordingBackend(BaseStateBackend):
    """Purges by recording; a reference ending in ``/boom`` makes its purge hook raise."""

    def __init__(self) -> None:
        self.purged: list[str] = []

    def purge_task_state(self, stored: str) -> None:
        if stored.endswith("/boom"):
            raise RuntimeError("the storage said no")
        self.purged.append(stored)

    purge_asset_state = purge_task_state

    def get(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    set = delete = clear = aget = aset = adelete = aclear = get


class Task:
    """One started task instance of a fresh run, storing references as its supervisor would."""

    def __init__(self, public: PublicClient, url: str, run_id: str) -> None:
        self.public = public
        self.run_id = run_id
        body = public.create_run(
            {"dag_id": "purging", "run_id": run_id, "tasks": [{"task_id": "t"}]}
        )
        self.ti_id = body["task_instances"][0]["id"]
        token = public.queue_task_instance(self.ti_id)["token"]
        self.client = ExecutionClient(url, token)
        self.client.start(self.ti_id, pid=os.getpid(), hostname="test-host")

    def store(self, key: str, ref: str) -> None:
        self.client.set_state(TaskInstanceId(self.ti_id), key, ref.encode(), WORKER)

    def clear_through_the_public_api(self) -> None:
        self.public.clear_task_state("purging", self.run_id, "t")


@pytest.fixture
def public(api_server: Any) -> Iterator[PublicClient]:
    with api_server.public() as client:
        yield client


@pytest.fixture
def task(public: PublicClient, api_server: Any, request: pytest.FixtureRequest) -> Iterator[Task]:
    made = Task(public, api_server.url, request.node.name[:200])
    yield made
    made.client.close()


@pytest.fixture
def worker() -> WorkerBackend:
    return WorkerBackend(RecordingBackend())


def _backend(worker: WorkerBackend) -> RecordingBackend:
    assert isinstance(worker.backend, RecordingBackend)
    return worker.backend


def test_a_failing_hook_leaves_its_entry_queued_and_the_rest_purged(
    public: PublicClient, task: Task, worker: WorkerBackend
) -> None:
    for key in ("a", "boom", "c"):
        task.store(key, f"mem://{task.ti_id}/{key}")
    task.clear_through_the_public_api()

    report = drain_queue(public, worker)

    assert sorted(_backend(worker).purged) == [f"mem://{task.ti_id}/a", f"mem://{task.ti_id}/c"]
    assert report.purged == 2
    assert len(report.failed) == 1 and "RuntimeError: the storage said no" in report.failed[0]
    assert [e["ref"] for e in public.list_purge_queue()] == [f"mem://{task.ti_id}/boom"]


def test_a_dry_run_counts_superseded_entries_and_lists_only_the_rest(
    public: PublicClient, task: Task, worker: WorkerBackend
) -> None:
    for key in ("again", "gone"):
        task.store(key, f"mem://{task.ti_id}/{key}")
    task.clear_through_the_public_api()
    task.store("other", f"mem://{task.ti_id}/again")  # named again: its object is live
    listed: list[str] = []

    report = drain_queue(public, worker, dry_run=True, listed=listed.append)

    assert listed == [f"mem://{task.ti_id}/gone"]
    assert (report.purged, report.superseded) == (1, 1)
    assert _backend(worker).purged == []
    assert len(public.list_purge_queue()) == 2  # a dry run changes nothing
    # A real drain agrees with it.
    report = drain_queue(public, worker)
    assert (report.purged, report.superseded) == (1, 1)
    assert _backend(worker).purged == [f"mem://{task.ti_id}/gone"]


def test_orphans_need_a_backend_that_lists_its_objects(
    public: PublicClient, worker: WorkerBackend
) -> None:
    from datetime import UTC, datetime

    from taskstate.errors import ConfigError

    with pytest.raises(ConfigError, match="iter_objects"):
        sweep_orphans(public, worker, older_than=datetime.now(UTC))


class AirflowStyleBackend(BaseStoreBackend):
    """Apache Airflow 3.3.2's hooks; objects removed by delete(scope, key), recorded here."""

    def __init__(self) -> None:
        self.deleted: list[tuple[Any, str]] = []

    def serialize_task_state_store_to_ref(self, *, value: Any, key: str, scope: Any) -> str:
        return f"airflow://{scope}/{key}"

    def delete(self, scope: Any, key: str, *, session: Any = None) -> None:
        self.deleted.append((scope, key))

    # What a sweep would need, which must not make it sweep this backend.
    def iter_objects(self, *, older_than: Any = None) -> Iterator[str]:
        raise AssertionError("never listed")

    def purge_object(self, url: str, *, older_than: Any = None) -> bool:
        raise AssertionError("never purged")

    def get(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    set = clear = aget = aset = adelete = aclear = get


def test_queued_references_of_a_backend_with_airflows_hooks_are_purged_by_scope_and_key(
    public: PublicClient, task: Task
) -> None:
    backend = AirflowStyleBackend()
    worker = WorkerBackend(backend)
    scope = TaskScope("purging", task.run_id, "t")
    for key in ("a", "b"):
        ref = worker.store(TaskOwner(task.ti_id, scope), key, key)
        assert isinstance(ref, str)
        task.client.set_state(TaskInstanceId(task.ti_id), key, ref.encode(), worker.path)
    task.clear_through_the_public_api()

    report = drain_queue(public, worker)

    assert report.purged == 2 and report.failed == []
    assert sorted(backend.deleted, key=lambda d: d[1]) == [(scope, "a"), (scope, "b")]
    assert public.list_purge_queue() == []


def test_orphans_of_a_backend_with_airflows_hooks_are_not_swept(public: PublicClient) -> None:
    from datetime import UTC, datetime

    from taskstate.errors import ConfigError

    worker = WorkerBackend(AirflowStyleBackend())
    with pytest.raises(ConfigError, match="implements Apache Airflow's hooks"):
        sweep_orphans(public, worker, older_than=datetime.now(UTC))
