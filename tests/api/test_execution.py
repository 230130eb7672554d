"""The execution API over real HTTP: the task-instance lifecycle, task state and asset state.

Everything goes through ``ExecutionClient`` (the supervisor's client) with the token that
queueing a task instance hands out, or through plain httpx for what that client never sends.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import msgspec
import pytest

from taskstate.api.keys import client_api_key
from taskstate.api.server import EmbeddedServer
from taskstate.client.execution import ExecutionClient
from taskstate.client.public import PublicClient
from taskstate.contracts.http import StateBody
from taskstate.contracts.scopes import AssetNamed, TaskInstanceId
from taskstate.errors import (
    ConflictError,
    InvalidKeyError,
    InvalidValueError,
    NotFoundError,
    ValueTooLargeError,
)

from .conftest import EVENTS, ORDERS, Attached, Run, error_of

Attach = Callable[..., Attached]


def value_of(body: StateBody) -> Any:
    assert body.ref is None and body.backend is None
    assert isinstance(body.value, msgspec.Raw), f"no value in {body}"
    return msgspec.json.decode(body.value)


def is_missing(body: StateBody) -> bool:
    return body.value is msgspec.UNSET and body.ref is None and body.backend is None


# -- lifecycle ------------------------------------------------------------------------------


def test_start_reports_the_try_and_the_declared_assets(
    run: Run, attach: Attach, public: PublicClient
) -> None:
    queued = attach(run.ti_id("load"), start=False)
    assert queued.queued["state"] == "queued"
    assert queued.queued["try_number"] == 1

    started = queued.client.start(queued.ti_id, pid=1234, hostname="worker-1")

    assert started.ti.id == queued.ti_id
    assert (started.ti.dag_id, started.ti.run_id, started.ti.task_id) == ("etl", run.run_id, "load")
    assert started.ti.map_index == -1 and started.ti.try_number == 1
    assert sorted((a.name, a.uri) for a in started.assets) == sorted(
        (a["name"], a["uri"]) for a in (ORDERS, EVENTS)
    )
    assert started.max_value_bytes == 1_048_576
    roles = {a.name: (a.inlet, a.outlet) for a in started.assets}
    assert roles == {"orders": (True, False), "events": (False, True)}
    # A run created without dates or conf.
    assert started.dag_run.logical_date is None
    assert started.dag_run.data_interval_start is None
    assert started.dag_run.data_interval_end is None
    assert bytes(started.dag_run.conf) == b"{}"
    assert started.dag_run.start_date == public.get_run("etl", run.run_id)["created_at"]


def test_start_carries_the_run_dates_and_conf(attach: Attach, public: PublicClient) -> None:
    public.create_run(
        {
            "dag_id": "dated",
            "run_id": "r",
            "tasks": [{"task_id": "t"}],
            "logical_date": "2026-03-01T00:00:00+00:00",
            "conf": {"x": 2, "text": "é"},
        }
    )
    ti_id = public.get_run("dated", "r")["task_instances"][0]["id"]
    started = attach(ti_id, start=False).client.start(ti_id, pid=1, hostname="h")
    assert started.dag_run.logical_date == "2026-03-01T00:00:00+00:00"
    assert started.dag_run.data_interval_start == "2026-03-01T00:00:00+00:00"
    assert started.dag_run.data_interval_end == "2026-03-01T00:00:00+00:00"
    assert json.loads(bytes(started.dag_run.conf)) == {"x": 2, "text": "é"}


def test_start_reports_the_runs_dates_and_conf(
    make_run: Callable[..., Run], attach: Attach, public: PublicClient
) -> None:
    created = public.create_run(
        {
            "dag_id": "dated",
            "run_id": "r1",
            "tasks": [{"task_id": "t"}],
            "logical_date": "2026-03-01T00:00:00+00:00",
            "data_interval_start": "2026-02-28T00:00:00",  # no zone: UTC
            "data_interval_end": "2026-03-01T01:00:00+01:00",
            "conf": {"limit": 5, "tags": ["a"]},
        }
    )
    assert created["logical_date"] == "2026-03-01T00:00:00+00:00"
    assert created["data_interval_start"] == "2026-02-28T00:00:00+00:00"
    assert created["data_interval_end"] == "2026-03-01T00:00:00+00:00"
    assert created["conf"] == {"limit": 5, "tags": ["a"]}
    assert public.get_run("dated", "r1")["conf"] == {"limit": 5, "tags": ["a"]}

    ti = attach(created["task_instances"][0]["id"], start=False)
    started = ti.client.start(ti.ti_id, pid=1, hostname="h")
    assert started.dag_run.logical_date == "2026-03-01T00:00:00+00:00"
    assert started.dag_run.data_interval_start == "2026-02-28T00:00:00+00:00"
    assert started.dag_run.data_interval_end == "2026-03-01T00:00:00+00:00"
    assert msgspec.json.decode(started.dag_run.conf) == {"limit": 5, "tags": ["a"]}


@pytest.mark.parametrize(
    ("conf", "code"),
    [([1, 2], "usage_error"), ("text", "usage_error"), ({"x": [float("nan")]}, "invalid_value")],
)
def test_a_conf_that_is_not_a_json_object_is_refused(
    conf: Any, code: str, raw: httpx.Client, api_headers: dict[str, str], public: PublicClient
) -> None:
    body = {"dag_id": "d", "run_id": "r", "tasks": [{"task_id": "t"}], "conf": conf}
    answer = raw.post(
        "/api/v1/dag-runs",
        content=json.dumps(body).encode(),  # NaN as Python writes it, which JSON has not
        headers={**api_headers, "content-type": "application/json"},
    )
    error_of(answer, 400, code)
    assert public.list_runs("d") == []


def test_a_failed_try_with_retries_left_is_retried_with_the_same_id_and_state(
    run: Run, attach: Attach, public: PublicClient
) -> None:
    ti_id = run.ti_id("submit")
    first = attach(ti_id)
    first.client.set_state(TaskInstanceId(ti_id), "job_id", b'"job-42"', None)
    beat = first.client.heartbeat(ti_id)
    assert beat.state == "running"
    first.client.set_token(beat.token)  # the renewed token works like the first one
    first.client.set_state(TaskInstanceId(ti_id), "attempts", b"1", None)

    assert first.client.finish(ti_id, "failed", reason="remote job lost") == "up_for_retry"
    assert public.get_task_instance(ti_id)["state"] == "up_for_retry"

    second = attach(ti_id)
    assert second.queued["id"] == ti_id
    assert second.queued["try_number"] == 2
    assert value_of(second.client.get_state(TaskInstanceId(ti_id), "job_id")) == "job-42"
    assert value_of(second.client.get_state(TaskInstanceId(ti_id), "attempts")) == 1

    # The last try: no retries left.
    assert second.client.finish(ti_id, "failed") == "failed"
    with pytest.raises(ConflictError):
        public.queue_task_instance(ti_id)
    assert public.get_task_instance(ti_id)["try_number"] == 2


def test_finish_success_ends_the_task_instance(run: Run, attach: Attach) -> None:
    ti = attach(run.ti_id("audit"))
    assert ti.client.finish(ti.ti_id, "success") == "success"
    with pytest.raises(ConflictError) as info:
        ti.client.finish(ti.ti_id, "success")
    assert info.value.detail["state"] == "success"


def test_start_twice_and_finish_before_start_are_conflicts(run: Run, attach: Attach) -> None:
    queued = attach(run.ti_id("audit"), start=False)
    with pytest.raises(ConflictError, match="not running"):
        queued.client.finish(queued.ti_id, "success")
    queued.client.start(queued.ti_id, pid=1, hostname="h")
    with pytest.raises(ConflictError, match="not queued"):
        queued.client.start(queued.ti_id, pid=1, hostname="h")


def test_a_queued_try_that_never_started_can_end_as_failed(run: Run, attach: Attach) -> None:
    """Its supervisor died before starting it: the runner ends the try with the try's token."""
    queued = attach(run.ti_id("audit"), start=False)
    assert queued.client.finish(queued.ti_id, "failed", "supervisor died") == "failed"


def test_malformed_finish_body_is_a_usage_error(
    run: Run, attach: Attach, raw: httpx.Client
) -> None:
    ti = attach(run.ti_id("audit"))
    answer = raw.post(
        f"/execution/task-instances/{ti.ti_id}/finish",
        headers=ti.headers,
        json={"state": "exploded"},
    )
    assert answer.status_code == 400
    assert answer.json()["code"] == "usage_error"
    assert ti.client.finish(ti.ti_id, "success") == "success"


def test_a_try_that_skips_itself_ends_skipped_even_with_retries_left(
    run: Run, attach: Attach, public: PublicClient
) -> None:
    ti = attach(run.ti_id("submit"))  # retries=1
    assert ti.client.finish(ti.ti_id, "skipped", "the task skipped itself") == "skipped"
    assert public.get_task_instance(ti.ti_id)["state"] == "skipped"
    with pytest.raises(ConflictError):
        public.queue_task_instance(ti.ti_id)


def test_only_a_running_try_can_end_skipped(run: Run, attach: Attach) -> None:
    queued = attach(run.ti_id("audit"), start=False)
    with pytest.raises(ConflictError, match="not running"):
        queued.client.finish(queued.ti_id, "skipped")


def test_a_failed_try_without_retry_fails_with_retries_left(
    run: Run, attach: Attach, public: PublicClient
) -> None:
    ti = attach(run.ti_id("submit"))  # retries=1
    assert ti.client.finish(ti.ti_id, "failed", "no point", retry=False) == "failed"
    assert public.get_task_instance(ti.ti_id)["try_number"] == 1
    with pytest.raises(ConflictError):
        public.queue_task_instance(ti.ti_id)


def test_finish_retry_defaults_to_true_on_the_wire(
    run: Run, attach: Attach, raw: httpx.Client
) -> None:
    ti = attach(run.ti_id("submit"))
    answer = raw.post(
        f"/execution/task-instances/{ti.ti_id}/finish",
        headers=ti.headers,
        json={"state": "failed", "reason": None},
    )
    assert answer.json() == {"state": "up_for_retry"}


# -- task state -------------------------------------------------------------------------------


def test_task_state_get_set_delete_clear(run: Run, attach: Attach) -> None:
    ti = attach(run.ti_id("submit"))
    client = ti.client

    assert is_missing(client.get_state(TaskInstanceId(ti.ti_id), "job"))
    client.set_state(
        TaskInstanceId(ti.ti_id), "job", b'{"id": 7, "tags": ["a", "b"], "ok": true}', None
    )
    assert value_of(client.get_state(TaskInstanceId(ti.ti_id), "job")) == {
        "id": 7,
        "tags": ["a", "b"],
        "ok": True,
    }
    client.set_state(TaskInstanceId(ti.ti_id), "job", b"2.5", None)  # overwrite
    assert value_of(client.get_state(TaskInstanceId(ti.ti_id), "job")) == 2.5

    deleted = client.delete_state(TaskInstanceId(ti.ti_id), "job")
    assert value_of(deleted) == 2.5  # delete answers with what it removed
    assert is_missing(client.get_state(TaskInstanceId(ti.ti_id), "job"))
    assert is_missing(client.delete_state(TaskInstanceId(ti.ti_id), "job"))

    client.set_state(TaskInstanceId(ti.ti_id), "a", b"1", None)
    client.set_state(TaskInstanceId(ti.ti_id), "b", b"2", None)
    assert client.clear_state(TaskInstanceId(ti.ti_id)).refs == []
    assert is_missing(client.get_state(TaskInstanceId(ti.ti_id), "a"))
    assert is_missing(client.get_state(TaskInstanceId(ti.ti_id), "b"))


def test_a_missing_key_answers_an_empty_body(run: Run, attach: Attach, raw: httpx.Client) -> None:
    ti = attach(run.ti_id("submit"))
    answer = raw.get(f"/execution/state/ti/{ti.ti_id}/nothing-here", headers=ti.headers)
    assert answer.status_code == 200
    assert answer.json() == {}


def test_task_state_is_separate_per_task_instance(run: Run, attach: Attach) -> None:
    submit = attach(run.ti_id("submit"))
    audit = attach(run.ti_id("audit"))
    submit.client.set_state(TaskInstanceId(submit.ti_id), "k", b'"submit"', None)
    audit.client.set_state(TaskInstanceId(audit.ti_id), "k", b'"audit"', None)
    assert value_of(submit.client.get_state(TaskInstanceId(submit.ti_id), "k")) == "submit"
    assert value_of(audit.client.get_state(TaskInstanceId(audit.ti_id), "k")) == "audit"
    audit.client.clear_state(TaskInstanceId(audit.ti_id))
    assert value_of(submit.client.get_state(TaskInstanceId(submit.ti_id), "k")) == "submit"


def test_mapped_task_instances_have_their_own_state(
    make_run: Callable[..., Run], attach: Attach, public: PublicClient
) -> None:
    run = make_run([{"task_id": "fan", "map_index": i} for i in range(3)], dag_id="mapped")
    by_index = {ti["map_index"]: ti["id"] for ti in run.task_instances}
    assert sorted(by_index) == [0, 1, 2]
    for index in (0, 1):
        ti = attach(by_index[index])
        ti.client.set_state(TaskInstanceId(ti.ti_id), "part", str(index).encode(), None)

    listed = public.list_task_state("mapped", run.run_id, "fan")
    assert sorted((e["map_index"], e["value"]) for e in listed) == [(0, 0), (1, 1)]
    only_one = public.list_task_state("mapped", run.run_id, "fan", map_index=1)
    assert [(e["map_index"], e["value"]) for e in only_one] == [(1, 1)]


STRANGE_KEYS = [
    "a/b",
    "a/",
    "/leading",
    "a//b",
    "..",
    ".",
    "a/../b",
    "./x",
    "%",
    "%2F",
    "100%25",
    "?",
    "a?b=c&d",
    "#",
    "a#frag",
    "with space",
    " ",
    "+plus+",
    "ünïcødé-键-🔑",
    "x" * 512,
    "é" * 512,  # 512 characters, 1024 bytes of UTF-8
]


@pytest.mark.parametrize("key", STRANGE_KEYS, ids=lambda k: repr(k[:16]))
def test_keys_travel_intact(key: str, run: Run, attach: Attach, public: PublicClient) -> None:
    ti = attach(run.ti_id("submit"))
    ti.client.set_state(TaskInstanceId(ti.ti_id), key, b'"stored"', None)
    ti.client.set_state(TaskInstanceId(ti.ti_id), "neighbour", b'"other"', None)

    assert value_of(ti.client.get_state(TaskInstanceId(ti.ti_id), key)) == "stored"
    listed = public.list_task_state(run.dag_id, run.run_id, "submit")
    assert sorted(e["key"] for e in listed) == sorted([key, "neighbour"])
    assert public.get_task_state(run.dag_id, run.run_id, "submit", key)["value"] == "stored"

    assert value_of(ti.client.delete_state(TaskInstanceId(ti.ti_id), key)) == "stored"
    assert value_of(ti.client.get_state(TaskInstanceId(ti.ti_id), "neighbour")) == "other"


@pytest.mark.parametrize("key", ["..", "a/b", "?x", "#"])
def test_keys_travel_intact_in_asset_state(key: str, run: Run, attach: Attach) -> None:
    ti = attach(run.ti_id("load"))
    ti.client.set_state(AssetNamed("orders"), key, b"1", None)
    assert value_of(ti.client.get_state(AssetNamed("orders"), key)) == 1
    assert is_missing(ti.client.get_state(AssetNamed("orders"), key + "-other"))


# -- asset state ------------------------------------------------------------------------------


def test_asset_state_get_set_delete_clear(run: Run, attach: Attach) -> None:
    ti = attach(run.ti_id("load"))
    client = ti.client
    assert is_missing(client.get_state(AssetNamed("orders"), "watermark"))
    client.set_state(AssetNamed("orders"), "watermark", b'"2026-01-01"', None)
    client.set_state(AssetNamed("events"), "watermark", b'"2026-02-02"', None)
    assert value_of(client.get_state(AssetNamed("orders"), "watermark")) == "2026-01-01"
    assert value_of(client.get_state(AssetNamed("events"), "watermark")) == "2026-02-02"

    assert value_of(client.delete_state(AssetNamed("orders"), "watermark")) == "2026-01-01"
    assert is_missing(client.get_state(AssetNamed("orders"), "watermark"))

    client.set_state(AssetNamed("events"), "other", b"[1, 2]", None)
    assert client.clear_state(AssetNamed("events")).refs == []
    assert is_missing(client.get_state(AssetNamed("events"), "watermark"))
    assert is_missing(client.get_state(AssetNamed("events"), "other"))


def test_asset_state_by_uri(run: Run, attach: Attach, raw: httpx.Client) -> None:
    ti = attach(run.ti_id("load"))
    uri = {"uri": ORDERS["uri"]}
    put = raw.put(
        "/execution/state/asset/cursor", params=uri, headers=ti.headers, json={"value": 99}
    )
    assert put.status_code == 204
    assert value_of(ti.client.get_state(AssetNamed("orders"), "cursor")) == 99

    got = raw.get("/execution/state/asset/cursor", params=uri, headers=ti.headers)
    assert got.status_code == 200 and got.json()["value"] == 99
    assert got.json()["version"] > 0 and got.headers["etag"] == f'"{got.json()["version"]}"'

    deleted = raw.delete("/execution/state/asset/cursor", params=uri, headers=ti.headers)
    assert deleted.json()["value"] == 99
    assert is_missing(ti.client.get_state(AssetNamed("orders"), "cursor"))

    raw.put("/execution/state/asset/a", params=uri, headers=ti.headers, json={"value": 1})
    cleared = raw.delete("/execution/state/asset", params=uri, headers=ti.headers)
    assert cleared.status_code == 200 and cleared.json() == {"refs": []}
    assert is_missing(ti.client.get_state(AssetNamed("orders"), "a"))


def test_asset_state_is_shared_across_runs(make_run: Callable[..., Run], attach: Attach) -> None:
    first_run, second_run = make_run(), make_run()
    first = attach(first_run.ti_id("load"))
    first.client.set_state(AssetNamed("orders"), "watermark", b"41", None)
    first.client.finish(first.ti_id, "success")

    second = attach(second_run.ti_id("load"))
    assert value_of(second.client.get_state(AssetNamed("orders"), "watermark")) == 41
    # ...but task state is not shared.
    first_state = attach(first_run.ti_id("submit"))
    first_state.client.set_state(TaskInstanceId(first_state.ti_id), "k", b"1", None)
    second_state = attach(second_run.ti_id("submit"))
    assert is_missing(second_state.client.get_state(TaskInstanceId(second_state.ti_id), "k"))


def test_asset_without_name_or_uri_is_refused(run: Run, attach: Attach, raw: httpx.Client) -> None:
    ti = attach(run.ti_id("load"))
    answer = raw.get("/execution/state/asset/k", headers=ti.headers)
    assert answer.status_code == 403
    assert answer.json()["code"] == "asset_not_declared"


# -- references -------------------------------------------------------------------------------


def test_a_reference_is_stored_beside_the_value_and_reported_by_clear(
    run: Run, attach: Attach, raw: httpx.Client, public: PublicClient
) -> None:
    ti = attach(run.ti_id("load"))
    put = raw.put(
        f"/execution/state/ti/{ti.ti_id}/big",
        headers=ti.headers,
        json={"ref": "mem://x", "backend": "m.C"},
    )
    assert put.status_code == 204
    # A user value that looks like a reference stays a value.
    ti.client.set_state(
        TaskInstanceId(ti.ti_id), "lookalike", b'{"ref": "mem://x", "backend": "m.C"}', None
    )

    stored = ti.client.get_state(TaskInstanceId(ti.ti_id), "big")
    assert stored.value is msgspec.UNSET
    assert (stored.ref, stored.backend) == ("mem://x", "m.C")
    assert value_of(ti.client.get_state(TaskInstanceId(ti.ti_id), "lookalike")) == {
        "ref": "mem://x",
        "backend": "m.C",
    }
    listed = {e["key"]: e for e in public.list_task_state(run.dag_id, run.run_id, "load")}
    assert (listed["big"]["value"], listed["big"]["ref"], listed["big"]["backend"]) == (
        None,
        "mem://x",
        "m.C",
    )
    assert listed["lookalike"]["ref"] is None

    removed = ti.client.clear_state(TaskInstanceId(ti.ti_id))
    assert [(r.ref, r.backend) for r in removed.refs] == [("mem://x", "m.C")]


def test_asset_reference_through_the_client(run: Run, attach: Attach) -> None:
    ti = attach(run.ti_id("load"))
    ti.client.set_state(AssetNamed("orders"), "blob", b"s3://bucket/obj-1", "pkg.mod.Backend")
    stored = ti.client.get_state(AssetNamed("orders"), "blob")
    assert (stored.ref, stored.backend) == ("s3://bucket/obj-1", "pkg.mod.Backend")
    deleted = ti.client.delete_state(AssetNamed("orders"), "blob")
    assert deleted.ref == "s3://bucket/obj-1"
    assert is_missing(ti.client.get_state(AssetNamed("orders"), "blob"))


# -- bad input: a typed error, and nothing stored changes -------------------------------------


@pytest.fixture
def seeded(run: Run, attach: Attach) -> Attached:
    """The submit task instance, running, with ``k = 1`` stored."""
    ti = attach(run.ti_id("submit"))
    ti.client.set_state(TaskInstanceId(ti.ti_id), "k", b"1", None)
    return ti


def assert_unchanged(ti: Attached) -> None:
    assert value_of(ti.client.get_state(TaskInstanceId(ti.ti_id), "k")) == 1


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
def test_an_empty_key_is_an_invalid_key_not_a_clear(
    method: str, seeded: Attached, raw: httpx.Client
) -> None:
    # The trailing slash routes to the key route with an empty key; DELETE must not clear.
    answer = raw.request(
        method,
        f"/execution/state/ti/{seeded.ti_id}/",
        headers=seeded.headers,
        json={"value": 2},
    )
    body = error_of(answer, 400, "invalid_key")
    assert "empty" in body["message"]
    assert_unchanged(seeded)


def test_an_empty_key_through_the_client(seeded: Attached) -> None:
    with pytest.raises(InvalidKeyError, match="empty"):
        seeded.client.set_state(TaskInstanceId(seeded.ti_id), "", b"2", None)
    with pytest.raises(InvalidKeyError):
        seeded.client.delete_state(TaskInstanceId(seeded.ti_id), "")
    assert_unchanged(seeded)


def test_an_empty_asset_key_is_an_invalid_key(run: Run, attach: Attach) -> None:
    ti = attach(run.ti_id("load"))
    ti.client.set_state(AssetNamed("orders"), "k", b"1", None)
    with pytest.raises(InvalidKeyError):
        ti.client.delete_state(AssetNamed("orders"), "")
    assert value_of(ti.client.get_state(AssetNamed("orders"), "k")) == 1


def test_a_key_over_512_characters(seeded: Attached) -> None:
    with pytest.raises(InvalidKeyError) as info:
        seeded.client.set_state(TaskInstanceId(seeded.ti_id), "k" * 513, b"2", None)
    assert info.value.detail == {"length": 513, "limit": 512}
    assert_unchanged(seeded)
    assert is_missing(seeded.client.get_state(TaskInstanceId(seeded.ti_id), "k" * 512))


@pytest.mark.parametrize("key", ["a\nb", "a\tb", "\x00", "a\x7f"])
def test_a_key_with_control_characters(key: str, seeded: Attached) -> None:
    # "\n" too reaches the key check: the state routes match it (see api.app).
    with pytest.raises(InvalidKeyError, match="control characters"):
        seeded.client.set_state(TaskInstanceId(seeded.ti_id), key, b"2", None)
    with pytest.raises(InvalidKeyError):
        seeded.client.delete_state(TaskInstanceId(seeded.ti_id), key)
    assert_unchanged(seeded)


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (b'{"value": null}', "None cannot be stored"),
        (b"not json", "malformed"),
        (b'{"value": NaN}', "malformed"),
        (b'{"value": Infinity}', "malformed"),
        (b'{"value": 1', "malformed"),
        (b"", "malformed"),
        (b"{}", "value or a ref"),
        (b'{"ref": "mem://x"}', "backend"),
        (b'{"value": 2, "ref": "mem://x", "backend": "m.C"}', "either"),
        (b'{"ref": "mem://x", "backend": "not a class path"}', "class path"),
        (b'{"ref": "", "backend": "m.C"}', "reference"),
    ],
)
def test_bad_bodies_are_invalid_values(
    body: bytes, needle: str, seeded: Attached, raw: httpx.Client
) -> None:
    answer = raw.put(
        f"/execution/state/ti/{seeded.ti_id}/k",
        headers={**seeded.headers, "content-type": "application/json"},
        content=body,
    )
    error = error_of(answer, 400, "invalid_value")
    assert needle in error["message"]
    assert_unchanged(seeded)


def test_a_value_over_max_value_bytes(make_settings: Any) -> None:
    settings = make_settings(TASKSTATE__STATE_STORE__MAX_VALUE_BYTES="64")
    with (
        EmbeddedServer(settings) as server,
        PublicClient(server.url, client_api_key(settings)) as public,
    ):
        created = public.create_run(
            {"dag_id": "d", "run_id": "r", "tasks": [{"task_id": "t", "inlets": [ORDERS]}]}
        )
        ti_id = created["task_instances"][0]["id"]
        client = ExecutionClient(server.url, public.queue_task_instance(ti_id)["token"])
        try:
            assert client.start(ti_id, pid=1, hostname="h").max_value_bytes == 64
            client.set_state(TaskInstanceId(ti_id), "k", b'"small"', None)
            exactly = b'"' + b"x" * 62 + b'"'
            client.set_state(TaskInstanceId(ti_id), "edge", exactly, None)  # 64 bytes: at the limit
            with pytest.raises(ValueTooLargeError) as info:
                client.set_state(TaskInstanceId(ti_id), "k", b'"' + b"x" * 63 + b'"', None)
            assert info.value.status == 413
            assert info.value.detail == {"size": 65, "limit": 64}
            assert "[state_store] max_value_bytes" in info.value.message
            with pytest.raises(ValueTooLargeError):
                client.set_state(AssetNamed("orders"), "k", b"[" + b"1," * 40 + b"1]", None)
            assert value_of(client.get_state(TaskInstanceId(ti_id), "k")) == "small"
            assert is_missing(client.get_state(AssetNamed("orders"), "k"))
        finally:
            client.close()


def test_a_reference_is_not_limited_by_max_value_bytes(make_settings: Any) -> None:
    # Large values are what worker-side backends are for: only the reference reaches the server.
    settings = make_settings(TASKSTATE__STATE_STORE__MAX_VALUE_BYTES="8")
    with (
        EmbeddedServer(settings) as server,
        PublicClient(server.url, client_api_key(settings)) as public,
    ):
        created = public.create_run({"dag_id": "d", "run_id": "r", "tasks": [{"task_id": "t"}]})
        ti_id = created["task_instances"][0]["id"]
        client = ExecutionClient(server.url, public.queue_task_instance(ti_id)["token"])
        try:
            client.set_state(
                TaskInstanceId(ti_id), "k", b"s3://bucket/a-long-object-name", "pkg.Backend"
            )
            assert (
                client.get_state(TaskInstanceId(ti_id), "k").ref == "s3://bucket/a-long-object-name"
            )
        finally:
            client.close()


def test_a_reference_over_4096_characters(seeded: Attached) -> None:
    with pytest.raises(InvalidValueError, match="4096"):
        seeded.client.set_state(TaskInstanceId(seeded.ti_id), "k", b"r" * 4097, "pkg.Backend")
    assert_unchanged(seeded)


def test_unknown_task_instance_routes(raw: httpx.Client, seeded: Attached) -> None:
    answer = raw.get("/execution/no-such-route", headers=seeded.headers)
    error_of(answer, 404, "not_found")
    wrong_method = raw.post(f"/execution/state/ti/{seeded.ti_id}/k", headers=seeded.headers)
    body = error_of(wrong_method, 405, "usage_error")
    assert body["message"].startswith(
        f"POST is not allowed on /execution/state/ti/{seeded.ti_id}/k"
    )
    allowed = {m.strip() for m in wrong_method.headers["allow"].split(",")}
    assert {"GET", "PUT", "DELETE"} <= allowed
    assert_unchanged(seeded)


def test_queueing_a_running_task_instance_is_a_conflict(
    seeded: Attached, public: PublicClient
) -> None:
    with pytest.raises(ConflictError) as info:
        public.queue_task_instance(seeded.ti_id)
    assert info.value.detail["state"] == "running"
    assert public.get_task_instance(seeded.ti_id)["try_number"] == 1
    assert_unchanged(seeded)


def test_an_unknown_task_instance_cannot_be_queued(public: PublicClient) -> None:
    with pytest.raises(NotFoundError):
        public.queue_task_instance("00000000-0000-0000-0000-000000000000")


def test_head_of_a_key_answers_like_get_without_a_body(seeded: Attached, raw: httpx.Client) -> None:
    path = f"/execution/state/ti/{seeded.ti_id}/k"
    head = raw.head(path, headers=seeded.headers)
    get = raw.get(path, headers=seeded.headers)
    assert head.status_code == get.status_code == 200
    assert head.content == b"" and get.content
    # The connection is still good for the next request.
    assert raw.get(path, headers=seeded.headers).status_code == 200


def test_a_newline_outside_a_state_key_is_just_an_unknown_route(raw: httpx.Client) -> None:
    error_of(raw.get("/nope/a%0Ab"), 404, "not_found")
