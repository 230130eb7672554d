"""The public API over real HTTP: runs, task instances, task state and asset state, with an API key.

Most calls go through ``PublicClient`` (what the CLI and the runner use); plain httpx sends
what that client never would.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
import pytest

from taskstate.api.keys import client_api_key
from taskstate.api.server import EmbeddedServer
from taskstate.client.public import PublicClient
from taskstate.contracts.scopes import TaskInstanceId
from taskstate.errors import (
    ConflictError,
    InvalidIdentifierError,
    InvalidKeyError,
    InvalidValueError,
    NotFoundError,
    PreconditionFailedError,
    UnknownAssetError,
    UsageError,
    ValueTooLargeError,
)

from .conftest import ORDERS, Attached, Run, error_of

Attach = Callable[..., Attached]


def unversioned(entry: dict[str, Any]) -> dict[str, Any]:
    """``entry`` without its version, which must be there (assigned by the write)."""
    rest = dict(entry)
    assert rest.pop("version") > 0
    return rest


def keys_of(entries: list[dict[str, Any]]) -> dict[str, Any]:
    return {e["key"]: e["value"] for e in entries}


# -- runs and task instances ------------------------------------------------------------------


def test_create_and_get_a_run(public: PublicClient) -> None:
    created = public.create_run(
        {
            "dag_id": "etl",
            "run_id": "manual__2026-01-01T00:00:00+00:00",
            "dag_file": "/dags/etl.py",
            "tasks": [
                {"task_id": "extract", "retries": 2, "retry_delay_seconds": 1.5},
                {"task_id": "load", "inlets": [ORDERS]},
            ],
        }
    )
    assert created["state"] == "running"
    assert created["dag_file"] == "/dags/etl.py"
    datetime.fromisoformat(created["created_at"])
    assert created["ended_at"] is None
    tis = {ti["task_id"]: ti for ti in created["task_instances"]}
    assert tis["extract"]["max_tries"] == 2
    assert tis["extract"]["retry_delay_seconds"] == 1.5
    assert all(ti["state"] == "scheduled" and ti["try_number"] == 0 for ti in tis.values())

    fetched = public.get_run("etl", "manual__2026-01-01T00:00:00+00:00")
    assert fetched == created
    assert public.get_task_instance(tis["load"]["id"]) == tis["load"]
    # Without dates or conf: no logical date, and an empty conf.
    assert created["logical_date"] is None
    assert created["data_interval_start"] is None and created["data_interval_end"] is None
    assert created["conf"] == {}


def test_a_run_with_dates_and_conf(public: PublicClient) -> None:
    body = {
        "dag_id": "etl",
        "run_id": "dated",
        "tasks": [{"task_id": "t"}],
        "logical_date": "2026-03-01T00:00:00Z",
        "data_interval_start": "2026-02-28T00:00:00+00:00",
        "data_interval_end": "2026-03-01T02:00:00+02:00",
        "conf": {"x": 2, "nested": {"list": [1, "a", None]}},
    }
    created = public.create_run(body)
    assert created["logical_date"] == "2026-03-01T00:00:00+00:00"
    assert created["data_interval_start"] == "2026-02-28T00:00:00+00:00"
    assert created["data_interval_end"] == "2026-03-01T00:00:00+00:00"  # stored in UTC
    assert created["conf"] == {"x": 2, "nested": {"list": [1, "a", None]}}
    assert public.get_run("etl", "dated") == created
    [listed] = public.list_runs("etl")
    assert listed["conf"] == created["conf"] and listed["logical_date"] == created["logical_date"]


def test_a_logical_date_alone_is_its_own_data_interval(public: PublicClient) -> None:
    created = public.create_run(
        {
            "dag_id": "etl",
            "run_id": "r",
            "tasks": [{"task_id": "t"}],
            "logical_date": "2026-03-01T10:30:00+00:00",
        }
    )
    assert (
        created["data_interval_start"]
        == created["data_interval_end"]
        == ("2026-03-01T10:30:00+00:00")
    )


def test_a_second_run_with_the_same_id_and_another_conf_says_so(public: PublicClient) -> None:
    first = {"dag_id": "etl", "run_id": "r", "tasks": [{"task_id": "t"}], "conf": {"x": 1}}
    public.create_run(first)
    with pytest.raises(ConflictError) as info:
        public.create_run({**first, "conf": {"x": 2}})
    assert 'with conf {"x": 1}, not {"x": 2}' in info.value.message
    assert "conf cannot change" in info.value.message
    assert info.value.detail["conf"] == {"x": 1}
    with pytest.raises(ConflictError, match="already has a run 'r'; choose another"):
        public.create_run(first)
    assert public.get_run("etl", "r")["conf"] == {"x": 1}


def test_list_runs_all_and_by_dag(make_run: Callable[..., Run], public: PublicClient) -> None:
    assert public.list_runs() == []
    make_run(dag_id="a", run_id="r1")
    make_run(dag_id="b", run_id="r1")
    make_run(dag_id="a", run_id="r2")
    assert [(r["dag_id"], r["run_id"]) for r in public.list_runs()] == [
        ("a", "r1"),
        ("b", "r1"),
        ("a", "r2"),
    ]
    assert [r["run_id"] for r in public.list_runs("a")] == ["r1", "r2"]
    assert public.list_runs("nope") == []


@pytest.mark.parametrize("run_id", ["..", ".", "a.b", "x:y+z@w~v"])
def test_run_ids_that_look_like_path_syntax(
    run_id: str, make_run: Callable[..., Run], public: PublicClient
) -> None:
    run = make_run([{"task_id": "t"}], run_id=run_id)
    assert public.get_run("etl", run_id)["run_id"] == run_id
    public.set_task_state("etl", run_id, "t", "k", 1)
    assert public.get_task_state("etl", run_id, "t", "k")["value"] == 1
    ti = run.ti_id("t")
    public.mark_upstream_failed(ti)
    assert public.finish_run("etl", run_id, "failed")["state"] == "failed"


def test_an_unknown_run_is_not_found(public: PublicClient) -> None:
    with pytest.raises(NotFoundError) as info:
        public.get_run("etl", "nope")
    assert info.value.detail == {"dag_id": "etl", "run_id": "nope"}
    with pytest.raises(NotFoundError):
        public.get_task_instance("no-such-ti")


def test_creating_a_run_twice_is_a_conflict(run: Run, public: PublicClient) -> None:
    before = public.get_run(run.dag_id, run.run_id)
    with pytest.raises(ConflictError, match="already has a run"):
        public.create_run({"dag_id": run.dag_id, "run_id": run.run_id, "tasks": [{"task_id": "x"}]})
    assert public.get_run(run.dag_id, run.run_id) == before


@pytest.mark.parametrize(
    "other",
    [
        {"name": "orders-copy", "uri": ORDERS["uri"]},  # the uri belongs to another asset
        {"name": ORDERS["name"], "uri": "s3://elsewhere/orders"},  # the name has another uri
    ],
    ids=["uri-taken", "name-moved"],
)
def test_an_asset_uri_conflict(
    other: dict[str, str], make_run: Callable[..., Run], public: PublicClient
) -> None:
    make_run([{"task_id": "t", "inlets": [ORDERS]}], run_id="first")
    with pytest.raises(ConflictError) as info:
        make_run([{"task_id": "t", "outlets": [other]}], run_id="second")
    assert info.value.status == 409
    assert info.value.detail["uri"] == other["uri"]
    assert [{"name": a["name"], "uri": a["uri"]} for a in public.list_assets()] == [ORDERS]
    with pytest.raises(NotFoundError):  # the whole run was rolled back
        public.get_run("etl", "second")


_ONE_TASK: dict[str, Any] = {"dag_id": "etl", "run_id": "r", "tasks": [{"task_id": "t"}]}
_DAY = {"logical_date": "2026-03-01T00:00:00Z"}


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"dag_id": "etl", "run_id": "r", "tasks": []}, UsageError),
        ({"dag_id": "bad dag", "run_id": "r", "tasks": [{"task_id": "t"}]}, InvalidIdentifierError),
        ({"dag_id": "etl", "run_id": "r/1", "tasks": [{"task_id": "t"}]}, InvalidIdentifierError),
        ({"dag_id": "etl", "run_id": "r", "tasks": [{"task_id": ""}]}, InvalidIdentifierError),
        (
            {"dag_id": "etl", "run_id": "r", "tasks": [{"task_id": "t"}, {"task_id": "t"}]},
            UsageError,
        ),
        ({"dag_id": "etl", "run_id": "r", "tasks": [{"task_id": "t", "retries": -1}]}, UsageError),
        ({"dag_id": "etl", "run_id": "r"}, UsageError),
        (
            {"dag_id": "etl", "run_id": "r", "tasks": [{"task_id": "t", "inlets": [{"name": ""}]}]},
            UsageError,
        ),
        ({**_ONE_TASK, "logical_date": "yesterday"}, UsageError),
        ({**_ONE_TASK, **_DAY, "data_interval_start": "2026-03-01T00:00:00Z"}, UsageError),
        (
            {
                **_ONE_TASK,
                **_DAY,
                "data_interval_start": "2026-03-02T00:00:00Z",
                "data_interval_end": "2026-03-01T00:00:00Z",
            },
            UsageError,
        ),
        (
            {
                **_ONE_TASK,
                "data_interval_start": "2026-03-01T00:00:00Z",
                "data_interval_end": "2026-03-01T00:00:00Z",
            },
            UsageError,
        ),
        ({**_ONE_TASK, "conf": [1, 2]}, UsageError),
        ({**_ONE_TASK, "conf": "x"}, UsageError),
    ],
    ids=[
        "no-tasks",
        "dag-id",
        "run-id",
        "task-id",
        "twice",
        "retries",
        "no-tasks-key",
        "asset",
        "not-a-date",
        "half-interval",
        "interval-backwards",
        "interval-without-date",
        "conf-list",
        "conf-string",
    ],
)
def test_invalid_runs_are_refused(
    body: dict[str, Any], error: type[UsageError], public: PublicClient
) -> None:
    with pytest.raises(error) as info:
        public.create_run(body)
    assert info.value.status == 400
    assert public.list_runs() == []
    assert public.list_assets() == []


def test_finishing_a_run(run: Run, attach: Attach, public: PublicClient) -> None:
    with pytest.raises(ConflictError, match="unfinished"):
        public.finish_run(run.dag_id, run.run_id, "success")
    with pytest.raises(UsageError, match="success or failed"):
        public.finish_run(run.dag_id, run.run_id, "paused")
    for task_id in run.tis:
        ti = attach(run.ti_id(task_id))
        ti.client.finish(ti.ti_id, "success")
    finished = public.finish_run(run.dag_id, run.run_id, "success")
    assert finished["state"] == "success"
    assert finished["ended_at"] is not None


def test_mark_upstream_failed(run: Run, attach: Attach, public: PublicClient) -> None:
    assert public.mark_upstream_failed(run.ti_id("audit"))["state"] == "upstream_failed"
    with pytest.raises(ConflictError):
        public.queue_task_instance(run.ti_id("audit"))
    running = attach(run.ti_id("submit"))
    with pytest.raises(ConflictError, match="not scheduled"):
        public.mark_upstream_failed(running.ti_id)


def test_list_assets(make_run: Callable[..., Run], public: PublicClient) -> None:
    make_run()
    no_events = {"events": 0, "last_event_at": None}
    assert public.list_assets() == [
        {"name": "events", "uri": "s3://lake/events", **no_events},
        {"name": "orders", "uri": "s3://lake/orders", **no_events},
        {"name": "secrets", "uri": "s3://vault/secrets", **no_events},
    ]


def test_health(raw: httpx.Client) -> None:
    answer = raw.get("/health")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok", "version": __import__("taskstate").__version__}


def test_unknown_routes_answer_the_error_body(
    raw: httpx.Client, api_headers: dict[str, str]
) -> None:
    error_of(raw.get("/api/v1/nothing", headers=api_headers), 404, "not_found")
    error_of(raw.get("/nothing"), 404, "not_found")
    error_of(raw.post("/api/v1/assets", headers=api_headers), 405, "usage_error")


# -- task state -------------------------------------------------------------------------------


@pytest.fixture
def stored(make_run: Callable[..., Run], public: PublicClient) -> list[Run]:
    """Two runs of etl and one of other, with state on several task instances."""
    first, second = make_run(run_id="r1"), make_run(run_id="r2")
    other = make_run([{"task_id": "submit"}], dag_id="other", run_id="r1")
    public.set_task_state("etl", "r1", "submit", "job", "j-1")
    public.set_task_state("etl", "r1", "audit", "seen", 3)
    public.set_task_state("etl", "r2", "submit", "job", "j-2")
    public.set_task_state("other", "r1", "submit", "job", "o-1")
    return [first, second, other]


def test_list_task_state_with_partial_filters(stored: list[Run], public: PublicClient) -> None:
    def listed(*args: Any, **kwargs: Any) -> list[tuple[str, str, str]]:
        return [
            (e["run_id"], e["task_id"], e["value"]) for e in public.list_task_state(*args, **kwargs)
        ]

    assert listed("etl") == [("r1", "audit", 3), ("r1", "submit", "j-1"), ("r2", "submit", "j-2")]
    assert listed("etl", "r1") == [("r1", "audit", 3), ("r1", "submit", "j-1")]
    assert listed("etl", "r1", "submit") == [("r1", "submit", "j-1")]
    assert listed("etl", task_id="submit") == [("r1", "submit", "j-1"), ("r2", "submit", "j-2")]
    assert listed("etl", "r1", "submit", map_index=-1) == [("r1", "submit", "j-1")]
    assert listed("etl", "r1", "submit", map_index=0) == []
    assert listed("other") == [("r1", "submit", "o-1")]
    assert listed("nope") == []


def test_a_listed_entry_has_every_field(stored: list[Run], public: PublicClient) -> None:
    (entry,) = public.list_task_state("etl", "r1", "submit")
    assert set(entry) == {
        "dag_id",
        "run_id",
        "task_id",
        "map_index",
        "key",
        "value",
        "ref",
        "backend",
        "updated_at",
        "expires_at",
        "written_by",
        "version",
    }
    assert entry["map_index"] == -1 and entry["ref"] is None and entry["backend"] is None
    datetime.fromisoformat(entry["updated_at"])


def test_task_state_get_set_delete_clear(run: Run, attach: Attach, public: PublicClient) -> None:
    args = (run.dag_id, run.run_id, "submit")
    value = {"nested": [1, 2.5, "three", True, None], "empty": {}}
    assert unversioned(public.set_task_state(*args, "doc", value)) == {
        "dag_id": run.dag_id,
        "run_id": run.run_id,
        "task_id": "submit",
        "map_index": -1,
        "key": "doc",
        "value": value,
        "ref": None,
        "backend": None,
        "expires_at": None,
        "written_by": "api",
    }
    got = public.get_task_state(*args, "doc")
    assert got["value"] == value and got["ref"] is None

    # The task itself sees what the public API stored.
    ti = attach(run.ti_id("submit"))
    assert ti.client.get_state(TaskInstanceId(ti.ti_id), "doc").value is not None

    assert public.delete_task_state(*args, "doc")["deleted"] is True
    assert public.delete_task_state(*args, "doc")["deleted"] is False
    with pytest.raises(NotFoundError) as info:
        public.get_task_state(*args, "doc")
    assert info.value.detail == {"key": "doc"}

    public.set_task_state(*args, "a", 1)
    public.set_task_state(*args, "b", 2)
    public.set_task_state(run.dag_id, run.run_id, "audit", "c", 3)
    cleared = public.clear_task_state(*args)
    assert cleared["cleared"] is True and cleared["references_removed"] == 0
    assert public.list_task_state(*args) == []
    assert keys_of(public.list_task_state(run.dag_id, run.run_id, "audit")) == {"c": 3}


def test_clear_all_map_indices(make_run: Callable[..., Run], public: PublicClient) -> None:
    run = make_run([{"task_id": "fan", "map_index": i} for i in range(3)], dag_id="mapped")
    for index in range(3):
        public.set_task_state("mapped", run.run_id, "fan", "part", index, map_index=index)

    public.clear_task_state("mapped", run.run_id, "fan", 0)
    assert [e["map_index"] for e in public.list_task_state("mapped", run.run_id)] == [1, 2]

    public.clear_task_state("mapped", run.run_id, "fan", 1, all_map_indices=True)
    assert public.list_task_state("mapped", run.run_id) == []
    with pytest.raises(NotFoundError, match=r"run '.*' of DAG 'mapped' has no task 'nope'"):
        public.clear_task_state("mapped", run.run_id, "nope", 0, all_map_indices=True)


def test_a_reference_is_listed_with_value_null(
    run: Run, attach: Attach, public: PublicClient, raw: httpx.Client
) -> None:
    ti = attach(run.ti_id("load"))
    for path in (f"/execution/state/ti/{ti.ti_id}/blob", "/execution/state/asset/blob?name=orders"):
        answer = raw.put(path, headers=ti.headers, json={"ref": "mem://x", "backend": "m.C"})
        assert answer.status_code == 204

    ref_fields = {"value": None, "ref": "mem://x", "backend": "m.C"}
    got = public.get_task_state(run.dag_id, run.run_id, "load", "blob")
    assert {k: got[k] for k in ref_fields} == ref_fields
    (listed,) = public.list_task_state(run.dag_id, run.run_id, "load")
    assert {k: listed[k] for k in ref_fields} == ref_fields

    asset_entry = public.get_asset_state("orders", "blob")
    writer = {
        "dag_id": run.dag_id,
        "run_id": run.run_id,
        "task_id": "load",
        "map_index": -1,
        "try_number": 1,
    }
    assert unversioned(asset_entry) == {
        "asset": "orders",
        "key": "blob",
        **ref_fields,
        "expires_at": None,
        "written_by": writer,
    }
    (asset_listed,) = public.list_asset_state("orders")
    assert {k: asset_listed[k] for k in ref_fields} == ref_fields

    # Clearing reports the references it removed (their objects are the execution plane's).
    assert public.clear_task_state(run.dag_id, run.run_id, "load")["references_removed"] == 1
    assert public.clear_asset_state("orders")["references_removed"] == 1


# -- asset state ------------------------------------------------------------------------------


def test_asset_state_get_set_delete_clear(run: Run, public: PublicClient) -> None:
    assert public.list_asset_state("orders") == []
    assert unversioned(public.set_asset_state("orders", "watermark", "2026-01-01")) == {
        "asset": "orders",
        "key": "watermark",
        "value": "2026-01-01",
        "ref": None,
        "backend": None,
        "expires_at": None,
        "written_by": "api",
    }
    public.set_asset_state("orders", "rows", 10)
    public.set_asset_state("events", "rows", 20)
    assert keys_of(public.list_asset_state("orders")) == {"watermark": "2026-01-01", "rows": 10}
    (entry,) = [e for e in public.list_asset_state("orders") if e["key"] == "rows"]
    assert set(entry) == {
        "asset",
        "key",
        "value",
        "ref",
        "backend",
        "updated_at",
        "expires_at",
        "written_by",
        "version",
    }
    assert public.get_asset_state("orders", "rows")["value"] == 10

    assert public.delete_asset_state("orders", "rows") == {
        "asset": "orders",
        "key": "rows",
        "deleted": True,
    }
    with pytest.raises(NotFoundError):
        public.get_asset_state("orders", "rows")
    assert public.clear_asset_state("orders")["cleared"] is True
    assert public.list_asset_state("orders") == []
    assert keys_of(public.list_asset_state("events")) == {"rows": 20}


def test_asset_state_by_uri(run: Run, raw: httpx.Client, api_headers: dict[str, str]) -> None:
    by_uri = {"uri": ORDERS["uri"]}
    put = raw.put(
        "/api/v1/asset-state/cursor", params=by_uri, headers=api_headers, json={"value": 5}
    )
    assert put.status_code == 200 and put.json()["asset"] == "orders"
    listed = raw.get("/api/v1/asset-state", params=by_uri, headers=api_headers).json()
    assert keys_of(listed) == {"cursor": 5}
    got = raw.get("/api/v1/asset-state/cursor", params={"name": "orders"}, headers=api_headers)
    assert got.json()["value"] == 5

    both = raw.get("/api/v1/asset-state", params={**by_uri, "name": "orders"}, headers=api_headers)
    assert "exactly one" in error_of(both, 400, "usage_error")["message"]
    neither = raw.get("/api/v1/asset-state", headers=api_headers)
    error_of(neither, 400, "usage_error")


@pytest.mark.parametrize("operation", ["list", "get", "set", "delete", "clear"])
def test_an_unknown_asset_is_not_found(operation: str, run: Run, public: PublicClient) -> None:
    calls: dict[str, Callable[[], Any]] = {
        "list": lambda: public.list_asset_state("nope"),
        "get": lambda: public.get_asset_state("nope", "k"),
        "set": lambda: public.set_asset_state("nope", "k", 1),
        "delete": lambda: public.delete_asset_state("nope", "k"),
        "clear": lambda: public.clear_asset_state("nope"),
    }
    with pytest.raises(UnknownAssetError) as info:
        calls[operation]()
    assert info.value.status == 404
    assert info.value.code == "unknown_asset"
    assert info.value.detail["name"] == "nope"
    assert {a["name"] for a in public.list_assets()} == {"orders", "events", "secrets"}


def test_an_unknown_asset_uri_is_not_found(
    run: Run, raw: httpx.Client, api_headers: dict[str, str]
) -> None:
    answer = raw.get("/api/v1/asset-state", params={"uri": "s3://x/none"}, headers=api_headers)
    assert error_of(answer, 404, "unknown_asset")["detail"] == {"name": None, "uri": "s3://x/none"}


# -- bad input: a typed error, and nothing stored changes -------------------------------------


@pytest.fixture
def seeded(run: Run, public: PublicClient) -> tuple[str, str, str]:
    args = (run.dag_id, run.run_id, "submit")
    public.set_task_state(*args, "k", 1)
    public.set_asset_state("orders", "k", 1)
    return args


def assert_unchanged(public: PublicClient, args: tuple[str, str, str]) -> None:
    assert keys_of(public.list_task_state(*args)) == {"k": 1}
    assert keys_of(public.list_asset_state("orders")) == {"k": 1}


def _scope_params(where: str, seeded: tuple[str, str, str]) -> dict[str, str]:
    """The query parameters naming the seeded task instance, or the orders asset."""
    if where == "task-state":
        dag_id, run_id, task_id = seeded
        return {"dag_id": dag_id, "run_id": run_id, "task_id": task_id}
    return {"name": "orders"}


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
@pytest.mark.parametrize("where", ["task-state", "asset-state"])
def test_an_empty_key_is_an_invalid_key_not_a_clear(
    where: str,
    method: str,
    seeded: tuple[str, str, str],
    raw: httpx.Client,
    api_headers: dict[str, str],
    public: PublicClient,
) -> None:
    params = _scope_params(where, seeded)
    answer = raw.request(
        method, f"/api/v1/{where}/", params=params, headers=api_headers, json={"value": 2}
    )
    assert "empty" in error_of(answer, 400, "invalid_key")["message"]
    assert_unchanged(public, seeded)


def test_invalid_keys(seeded: tuple[str, str, str], public: PublicClient) -> None:
    for key in ("", "k" * 513, "a\nb", "tab\there"):
        with pytest.raises(InvalidKeyError):
            public.set_task_state(*seeded, key, 2)
        with pytest.raises(InvalidKeyError):
            public.set_asset_state("orders", key, 2)
    public.set_task_state(*seeded, "x" * 512, 2)  # the longest key
    public.delete_task_state(*seeded, "x" * 512)
    assert_unchanged(public, seeded)


@pytest.mark.parametrize(
    ("body", "code", "needle"),
    [
        (b'{"value": null}', "invalid_value", "None cannot be stored"),
        (b"not json", "invalid_value", "not valid JSON"),
        (b'{"value": 1', "invalid_value", "not valid JSON"),
        (b'{"value": NaN}', "invalid_value", "not a JSON number"),
        (b'{"value": [1, Infinity]}', "invalid_value", "not a JSON number"),
        (b'{"value": {"a": -Infinity}}', "invalid_value", "not a JSON number"),
        (b"{}", "usage_error", "body.value"),
        (b"[1]", "usage_error", "invalid request"),
    ],
)
@pytest.mark.parametrize("where", ["task-state", "asset-state"])
def test_bad_bodies(
    where: str,
    body: bytes,
    code: str,
    needle: str,
    seeded: tuple[str, str, str],
    raw: httpx.Client,
    api_headers: dict[str, str],
    public: PublicClient,
) -> None:
    params = _scope_params(where, seeded)
    answer = raw.put(
        f"/api/v1/{where}/k",
        params=params,
        headers={**api_headers, "content-type": "application/json"},
        content=body,
    )
    assert needle in error_of(answer, 400, code)["message"]
    assert_unchanged(public, seeded)


def test_none_through_the_client(seeded: tuple[str, str, str], public: PublicClient) -> None:
    with pytest.raises(InvalidValueError, match="None cannot be stored"):
        public.set_task_state(*seeded, "k", None)
    with pytest.raises(InvalidValueError, match="None cannot be stored"):
        public.set_asset_state("orders", "k", None)
    assert_unchanged(public, seeded)


def test_public_set_on_a_missing_task_instance(
    seeded: tuple[str, str, str], public: PublicClient
) -> None:
    dag_id, run_id, _ = seeded
    for args in ((dag_id, run_id, "nope"), (dag_id, "no-run", "submit"), ("no-dag", run_id, "x")):
        with pytest.raises(NotFoundError, match="no task instance") as info:
            public.set_task_state(*args, "k", 2)
        assert info.value.status == 404
    with pytest.raises(NotFoundError):
        public.set_task_state(dag_id, run_id, "submit", "k", 2, map_index=3)
    with pytest.raises(NotFoundError):
        public.clear_task_state(dag_id, run_id, "nope")
    assert_unchanged(public, seeded)


def test_a_value_over_max_value_bytes(make_settings: Callable[..., Any]) -> None:
    settings = make_settings(TASKSTATE__STATE_STORE__MAX_VALUE_BYTES="32")
    with (
        EmbeddedServer(settings) as server,
        PublicClient(server.url, client_api_key(settings)) as public,
    ):
        public.create_run(
            {"dag_id": "d", "run_id": "r", "tasks": [{"task_id": "t", "inlets": [ORDERS]}]}
        )
        public.set_task_state("d", "r", "t", "k", "small")
        public.set_task_state("d", "r", "t", "edge", "x" * 30)  # 32 bytes of JSON
        with pytest.raises(ValueTooLargeError) as info:
            public.set_task_state("d", "r", "t", "k", "x" * 31)
        assert info.value.status == 413
        assert info.value.detail == {"size": 33, "limit": 32}
        with pytest.raises(ValueTooLargeError):
            public.set_asset_state("orders", "k", list(range(20)))
        assert keys_of(public.list_task_state("d")) == {"k": "small", "edge": "x" * 30}
        assert public.list_asset_state("orders") == []


def test_bad_query_parameters(raw: httpx.Client, api_headers: dict[str, str]) -> None:
    no_dag = raw.get("/api/v1/task-state", headers=api_headers)
    assert "dag_id" in error_of(no_dag, 400, "usage_error")["message"]
    bad_index = raw.get(
        "/api/v1/task-state", params={"dag_id": "d", "map_index": "x"}, headers=api_headers
    )
    assert "map_index" in error_of(bad_index, 400, "usage_error")["message"]


def test_a_request_body_that_is_not_json(
    raw: httpx.Client, api_headers: dict[str, str], public: PublicClient
) -> None:
    answer = raw.post(
        "/api/v1/dag-runs",
        headers={**api_headers, "content-type": "application/json"},
        content=b"{dag_id: etl}",
    )
    assert "not valid JSON" in error_of(answer, 400, "invalid_value")["message"]
    assert public.list_runs() == []


def test_an_encrypted_value_is_listed_as_ciphertext_with_its_key_id(
    run: Run, public: PublicClient
) -> None:
    args = (run.dag_id, run.run_id, "submit")
    answer = public.set_task_state(*args, "sealed", "c2VhbGVk", encryption="k1")
    assert (answer["value"], answer["encryption"]) == ("c2VhbGVk", "k1")
    got = public.get_task_state(*args, "sealed")
    assert (got["value"], got["encryption"]) == ("c2VhbGVk", "k1")
    public.set_task_state(*args, "sealed", "plain")
    assert "encryption" not in public.get_task_state(*args, "sealed")
    # The marker names a key id; the value of an encrypted inline key is its ciphertext string.
    with pytest.raises(InvalidValueError, match="not an encryption key id"):
        public.set_task_state(*args, "bad", "c2VhbGVk", encryption="no spaces")
    with pytest.raises(InvalidValueError, match="must be a JSON string"):
        public.set_task_state(*args, "bad", {"a": 1}, encryption="k1")


# -- versions: ETag, If-Match, If-None-Match --------------------------------------------------


def test_a_key_carries_its_version_as_an_etag_and_if_match_guards_writes(
    run: Run, public: PublicClient, raw: httpx.Client, api_headers: dict[str, str]
) -> None:
    path = "/api/v1/asset-state/watermark"
    params = {"name": "orders"}
    created = raw.put(
        path, params=params, headers={**api_headers, "if-none-match": "*"}, json={"value": 1}
    )
    assert created.status_code == 200, created.text
    version = created.json()["version"]
    assert created.headers["etag"] == f'"{version}"'
    got = raw.get(path, params=params, headers=api_headers)
    assert got.headers["etag"] == f'"{version}"' and got.json()["version"] == version

    again = raw.put(
        path, params=params, headers={**api_headers, "if-none-match": "*"}, json={"value": 2}
    )
    body = error_of(again, 412, "precondition_failed")
    assert body["detail"]["current_version"] == version
    stale = {**api_headers, "if-match": f'"{version - 1}"'}
    error_of(
        raw.put(path, params=params, headers=stale, json={"value": 3}), 412, "precondition_failed"
    )
    error_of(raw.delete(path, params=params, headers=stale), 412, "precondition_failed")
    assert public.get_asset_state("orders", "watermark")["value"] == 1

    current = {**api_headers, "if-match": got.headers["etag"]}
    updated = raw.put(path, params=params, headers=current, json={"value": 4})
    assert updated.status_code == 200 and updated.json()["version"] > version
    error_of(raw.delete(path, params=params, headers=current), 412, "precondition_failed")
    newest = {**api_headers, "if-match": updated.headers["etag"]}
    assert raw.delete(path, params=params, headers=newest).json()["deleted"] is True
    bad = {**api_headers, "if-match": "not-a-version"}
    error_of(raw.put(path, params=params, headers=bad, json={"value": 5}), 400, "invalid_value")


def test_the_public_client_writes_if_version(run: Run, public: PublicClient) -> None:
    args = (run.dag_id, run.run_id, "submit")
    first = public.set_task_state(*args, "k", 1, if_version=0)
    with pytest.raises(PreconditionFailedError):
        public.set_task_state(*args, "k", 2, if_version=0)
    second = public.set_task_state(*args, "k", 3, if_version=first["version"])
    with pytest.raises(PreconditionFailedError):
        public.delete_task_state(*args, "k", if_version=first["version"])
    assert public.delete_task_state(*args, "k", if_version=second["version"])["deleted"]
