"""Deleting DAG runs, the purge queue's claims and reference lookups, over real HTTP."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from taskstate.client.public import PublicClient
from taskstate.contracts.scopes import AssetNamed, TaskInstanceId
from taskstate.errors import ConflictError, NotFoundError, PurgePendingError, UsageError

from .conftest import Attached, Run

WORKER = "tests_backend.ObjectBackend"


def _store(attached: Attached, key: str, ref: str) -> None:
    attached.client.set_state(TaskInstanceId(attached.ti_id), key, ref.encode(), WORKER)


def _queued(public: PublicClient) -> list[str]:
    return [e["ref"] for e in public.list_purge_queue(limit=1000)]


def _drain(public: PublicClient) -> None:
    """Empty the queue as a purge would: claim every entry, report the claim done."""
    if entries := public.list_purge_queue(limit=1000):
        answer = public.claim_purge([e["id"] for e in entries])
        if answer["claim"] is not None:
            public.release_purge(answer["claim"])


@pytest.fixture(autouse=True)
def empty_queue(public: PublicClient) -> None:
    _drain(public)


def test_delete_run_removes_state_and_queues_its_references(
    public: PublicClient, run: Run, attach: Callable[..., Attached]
) -> None:
    submit = attach(run.ti_id("submit"))
    _store(submit, "job_id", "mem://run/job_id")
    submit.client.set_state(TaskInstanceId(submit.ti_id), "inline", b'"kept nowhere"', None)
    submit.client.finish(submit.ti_id, "success")

    answer = public.delete_run(run.dag_id, run.run_id)

    assert answer["deleted"] is True
    assert answer["task_instances"] == len(run.task_instances)
    assert answer["references_queued"] == 1
    assert _queued(public) == ["mem://run/job_id"]
    with pytest.raises(NotFoundError):
        public.get_run(run.dag_id, run.run_id)
    assert public.list_task_state(run.dag_id, run.run_id) == []


def test_delete_run_refuses_a_run_with_a_try_in_flight(
    public: PublicClient, run: Run, attach: Callable[..., Attached]
) -> None:
    load = attach(run.ti_id("load"))
    _store(load, "k", "mem://in-flight")
    with pytest.raises(ConflictError, match="tries in flight \\(load\\)"):
        public.delete_run(run.dag_id, run.run_id)
    assert public.get_run(run.dag_id, run.run_id)["run_id"] == run.run_id
    assert [e["key"] for e in public.list_task_state(run.dag_id, run.run_id)] == ["k"]
    assert _queued(public) == []

    answer = public.delete_run(run.dag_id, run.run_id, force=True)
    assert answer["references_queued"] == 1


def test_delete_missing_run_is_not_found(public: PublicClient) -> None:
    with pytest.raises(NotFoundError, match="has no run 'nope'"):
        public.delete_run("etl", "nope")


def test_claim_drops_entries_whose_reference_was_written_again(
    public: PublicClient, run: Run, attach: Callable[..., Attached]
) -> None:
    submit = attach(run.ti_id("submit"))
    _store(submit, "a", "mem://claim/a")
    _store(submit, "b", "mem://claim/b")
    public.clear_task_state(run.dag_id, run.run_id, "submit")
    # A key names the object of "a" once more (a set of "a" itself would take back its own
    # entry at once: see the test below).
    _store(submit, "c", "mem://claim/a")
    ids = [e["id"] for e in public.list_purge_queue()]

    answer = public.claim_purge(ids)

    assert answer["superseded"] == 1
    assert [e["ref"] for e in answer["entries"]] == ["mem://claim/b"]
    assert _queued(public) == ["mem://claim/b"]  # claimed, queued until reported done
    # While the claim holds, a set of that reference waits for the purge.
    with pytest.raises(PurgePendingError, match="a purge holds the object") as held:
        _store(submit, "b", "mem://claim/b")
    assert held.value.detail["claimed"] is True
    done = public.release_purge(answer["claim"])
    assert _queued(public) == []
    # Done, the purge still refuses a set that stored its object before it finished...
    with pytest.raises(PurgePendingError, match="after it may have been stored") as purged:
        _store(submit, "b", "mem://claim/b")
    assert purged.value.detail == {
        "key": "b",
        "ref": "mem://claim/b",
        "claimed": False,
        "purged_through": done["purged_through"],
    }
    # ...and takes one that stored it again after.
    submit.client.set_state(
        TaskInstanceId(submit.ti_id),
        "b",
        b"mem://claim/b",
        WORKER,
        restored_after=done["purged_through"],
    )


def test_a_set_of_a_reference_claims_what_it_replaced(
    public: PublicClient, run: Run, attach: Callable[..., Attached]
) -> None:
    submit = attach(run.ti_id("submit"))
    _store(submit, "a", "mem://replace/1")
    version, replaced = submit.client.set_state_replacing(
        TaskInstanceId(submit.ti_id), "a", b"mem://replace/2", WORKER
    )
    assert version > 0
    assert [(r.ref, r.backend) for r in replaced.refs] == [("mem://replace/1", WORKER)]
    assert replaced.claim is not None
    assert _queued(public) == ["mem://replace/1"]  # queued by the set itself, and claimed
    assert public.claim_purge([e["id"] for e in public.list_purge_queue()])["entries"] == []
    public.release_purge(replaced.claim)
    assert _queued(public) == []
    # Setting the same reference again replaces nothing.
    _, again = submit.client.set_state_replacing(
        TaskInstanceId(submit.ti_id), "a", b"mem://replace/2", WORKER
    )
    assert again.refs == [] and again.claim is None


def test_find_refs_names_the_stored_references(
    public: PublicClient, run: Run, attach: Callable[..., Attached]
) -> None:
    submit = attach(run.ti_id("submit"))
    _store(submit, "a", "mem://find/a")
    found = public.find_refs(WORKER, ["mem://find/a", "mem://find/gone"])
    assert found == ["mem://find/a"]
    assert public.find_refs("other.Backend", ["mem://find/a"]) == []


def test_batches_are_bounded(public: PublicClient) -> None:
    with pytest.raises(UsageError, match=r"body\.refs: List should have at most 1000 items"):
        public.find_refs(WORKER, [f"r{i}" for i in range(1001)])
    with pytest.raises(UsageError, match=r"body\.ids: List should have at most 1000 items"):
        public.claim_purge(list(range(1001)))


def test_a_public_delete_queues_the_removed_reference(
    public: PublicClient, run: Run, attach: Callable[..., Attached]
) -> None:
    load = attach(run.ti_id("load"))
    _store(load, "k", "mem://delete/task")
    load.client.set_state(AssetNamed("orders"), "k", b"mem://delete/asset", WORKER)
    public.delete_task_state(run.dag_id, run.run_id, "load", "k")
    public.delete_asset_state("orders", "k")
    assert _queued(public) == ["mem://delete/task", "mem://delete/asset"]
