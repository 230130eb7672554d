"""The public routes of mapping: a placeholder replaced by its instances in one step, an empty
mapping skipped, instances ended without a try, and every index cleared at once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from taskstate.client.public import PublicClient
from taskstate.contracts.scopes import AssetNamed, TaskInstanceId
from taskstate.errors import ConflictError, NotFoundError, UnmappableOutputError

from .conftest import ORDERS, Attached, Run, error_of

Attach = Callable[..., Attached]

TASKS: list[dict[str, Any]] = [
    {"task_id": "tables"},
    {"task_id": "process", "retries": 2, "retry_delay_seconds": 1.5, "inlets": [ORDERS]},
    {"task_id": "report"},
]


@pytest.fixture
def mapping_run(make_run: Callable[..., Run]) -> Run:
    return make_run(TASKS, dag_id="mapping")


def test_a_placeholder_is_replaced_by_its_instances(
    mapping_run: Run, public: PublicClient, attach: Attach
) -> None:
    placeholder = mapping_run.ti_id("process")
    expanded = public.expand_task_instance(placeholder, 3)

    assert [(ti["task_id"], ti["map_index"], ti["state"]) for ti in expanded] == [
        ("process", i, "scheduled") for i in range(3)
    ]
    ids = [ti["id"] for ti in expanded]
    assert len(set(ids)) == 3 and placeholder not in ids
    assert all((ti["max_tries"], ti["retry_delay_seconds"]) == (2, 1.5) for ti in expanded)
    with pytest.raises(NotFoundError):
        public.get_task_instance(placeholder)
    listed = public.get_run("mapping", mapping_run.run_id)["task_instances"]
    assert [(ti["task_id"], ti["map_index"]) for ti in listed] == [
        ("process", 0),
        ("process", 1),
        ("process", 2),
        ("report", -1),
        ("tables", -1),
    ]
    # Each instance declares the placeholder's assets, and keeps a state of its own.
    for index, ti_id in enumerate(ids):
        attached = attach(ti_id)
        attached.client.set_state(AssetNamed("orders"), f"seen{index}", b"true", None)
        attached.client.set_state(TaskInstanceId(ti_id), "index", str(index).encode(), None)
    entries = public.list_task_state("mapping", mapping_run.run_id, "process")
    assert [(e["map_index"], e["value"]) for e in entries] == [(0, 0), (1, 1), (2, 2)]


def test_an_empty_mapping_skips_the_task(mapping_run: Run, public: PublicClient) -> None:
    [skipped] = public.expand_task_instance(mapping_run.ti_id("process"), 0)
    assert (skipped["map_index"], skipped["state"], skipped["try_number"]) == (-1, "skipped", 0)
    assert skipped["ended_at"] is not None


def test_only_a_scheduled_placeholder_can_be_expanded(
    mapping_run: Run, public: PublicClient, attach: Attach, raw: httpx.Client, api_headers: Any
) -> None:
    [first, *_] = public.expand_task_instance(mapping_run.ti_id("process"), 2)
    with pytest.raises(ConflictError, match="only a scheduled placeholder"):
        public.expand_task_instance(first["id"], 2)
    attach(mapping_run.ti_id("tables"))
    with pytest.raises(ConflictError, match="is running"):
        public.expand_task_instance(mapping_run.ti_id("tables"), 2)
    answer = raw.post(
        f"/api/v1/task-instances/{mapping_run.ti_id('report')}/expand",
        headers=api_headers,
        json={"count": -1},
    )
    error_of(answer, 400, "usage_error")
    with pytest.raises(NotFoundError):
        public.expand_task_instance("no-such-ti", 1)
    error_of(raw.post(f"/api/v1/task-instances/{first['id']}/skip"), 401, "not_authenticated")
    assert public.get_task_instance(mapping_run.ti_id("report"))["state"] == "scheduled"


def test_a_count_over_max_map_length_is_refused_and_changes_nothing(
    mapping_run: Run, public: PublicClient, raw: httpx.Client, api_headers: Any, api_server: Any
) -> None:
    placeholder = mapping_run.ti_id("process")
    limit = api_server.settings.workers.max_map_length
    assert limit == 1024
    for count in (limit + 1, 250_000_000_000):
        answer = raw.post(
            f"/api/v1/task-instances/{placeholder}/expand",
            headers=api_headers,
            json={"count": count},
        )
        body = error_of(answer, 400, "unmappable_output")
        assert body["detail"] == {"ti_id": placeholder, "count": count, "max_map_length": limit}
        assert "more than [workers] max_map_length = 1024" in body["message"]
    with pytest.raises(UnmappableOutputError):
        public.expand_task_instance(placeholder, limit + 1)

    listed = public.get_run("mapping", mapping_run.run_id)["task_instances"]
    assert [(ti["task_id"], ti["map_index"], ti["state"]) for ti in listed] == [
        ("process", -1, "scheduled"),
        ("report", -1, "scheduled"),
        ("tables", -1, "scheduled"),
    ]
    # The placeholder is untouched: it can still be expanded within the limit.
    assert len(public.expand_task_instance(placeholder, limit)) == limit


def test_instances_that_never_run_end_skipped_or_failed_and_the_run_can_finish(
    mapping_run: Run, public: PublicClient, attach: Attach
) -> None:
    tables = attach(mapping_run.ti_id("tables"))
    assert tables.client.finish(tables.ti_id, "success") == "success"
    failed = public.fail_task_instance(mapping_run.ti_id("process"))
    assert (failed["state"], failed["try_number"]) == ("failed", 0)
    skipped = public.skip_task_instance(mapping_run.ti_id("report"))
    assert skipped["state"] == "skipped"
    with pytest.raises(ConflictError, match="is skipped, not scheduled"):
        public.fail_task_instance(mapping_run.ti_id("report"))
    with pytest.raises(ConflictError):
        public.queue_task_instance(mapping_run.ti_id("report"))
    assert public.finish_run("mapping", mapping_run.run_id, "failed")["state"] == "failed"


def test_clear_all_map_indices_needs_no_map_index(mapping_run: Run, public: PublicClient) -> None:
    expanded = public.expand_task_instance(mapping_run.ti_id("process"), 3)
    run_id = mapping_run.run_id
    for ti in expanded:
        public.set_task_state("mapping", run_id, "process", "k", ti["map_index"], ti["map_index"])
    public.set_task_state("mapping", run_id, "report", "k", "kept")

    # A mapped task has no instance -1: clearing one index needs its map index.
    with pytest.raises(NotFoundError):
        public.clear_task_state("mapping", run_id, "process")
    cleared = public.clear_task_state("mapping", run_id, "process", all_map_indices=True)
    assert cleared["cleared"] is True
    assert [e["task_id"] for e in public.list_task_state("mapping", run_id)] == ["report"]
    with pytest.raises(NotFoundError, match="has no task 'nope'"):
        public.clear_task_state("mapping", run_id, "nope", all_map_indices=True)
