"""XComs in the task process: what ``xcom_push`` sends, and the shapes ``xcom_pull`` returns,
which are Airflow 3.3's (checked against its ``RuntimeTaskInstance.xcom_pull``)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from taskstate.contracts.frames import (
    PullXCom,
    PushXCom,
)
from taskstate.contracts.types import TaskInstanceInfo
from taskstate.errors import InvalidKeyError, InvalidValueError, UsageError, ValueTooLargeError
from taskstate.runtime.comms import SupervisorComms
from taskstate.runtime.task_instance import RuntimeTaskInstance
from taskstate.runtime.xcom import RETURN_VALUE, push_multiple_outputs, xcom_pull, xcom_push

from .conftest import FrameServer

Served = tuple[SupervisorComms, FrameServer]

TI = TaskInstanceInfo("ti-1", "d", "r", "own", 2, 1)


@pytest.fixture
def pushed(served: Served) -> Served:
    """single: one value; fan: map indexes 0 and 2 of 3 (1 pushed nothing); one: a mapped
    task with a single value; own: the calling task."""
    _, server = served
    server.xcoms.update(
        {
            ("single", -1, RETURN_VALUE): b'{"rows": 3}',
            ("single", -1, "note"): b'"hi"',
            ("fan", 0, RETURN_VALUE): b'"a"',
            ("fan", 2, RETURN_VALUE): b'"c"',
            ("one", 0, RETURN_VALUE): b"1",
            ("own", 2, RETURN_VALUE): b'"mine"',
            ("nulled", -1, RETURN_VALUE): b"null",
        }
    )
    return served


def pull(comms: SupervisorComms, **kwargs: Any) -> Any:
    return xcom_pull(comms, TI, **kwargs)


def test_one_task_id_gives_its_value(pushed: Served) -> None:
    comms, server = pushed
    assert pull(comms, task_ids="single") == {"rows": 3}
    assert pull(comms, task_ids="single", key="note") == "hi"
    assert server.requests == [
        PullXCom("single", RETURN_VALUE, None, "d", "r"),
        PullXCom("single", "note", None, "d", "r"),
    ]


def test_a_missing_xcom_is_none_and_default_applies_only_with_map_indexes(
    pushed: Served,
) -> None:
    comms, _ = pushed
    # Airflow 3.3 returns None here whatever the default: default is used for map indexes.
    assert pull(comms, task_ids="single", key="absent", default=5) is None
    assert pull(comms, task_ids="nowhere") is None
    assert pull(comms, task_ids="single", key="absent", map_indexes=-1, default=5) == 5
    assert pull(comms, task_ids="nulled") is None
    assert pull(comms, task_ids="nulled", map_indexes=-1, default=0) == 0


def test_without_task_ids_the_calling_task_is_pulled(pushed: Served) -> None:
    comms, server = pushed
    assert pull(comms) == "mine"
    assert server.requests == [PullXCom("own", RETURN_VALUE, None, "d", "r")]


def test_a_list_of_task_ids_gives_a_list(pushed: Served) -> None:
    comms, _ = pushed
    assert pull(comms, task_ids=["single", "nowhere"]) == [{"rows": 3}, None]
    assert pull(comms, task_ids=["single"]) == [{"rows": 3}]
    assert pull(comms, task_ids=("fan", "single")) == ["a", "c", {"rows": 3}]
    assert pull(comms, task_ids=[]) == []


def test_a_mapped_task_gives_the_values_its_instances_pushed(pushed: Served) -> None:
    comms, _ = pushed
    assert pull(comms, task_ids="fan") == ["a", "c"]  # index 1 pushed nothing: left out
    assert pull(comms, task_ids="one") == 1  # Airflow: one value is that value, not a list


def test_map_indexes_pick_instances(pushed: Served) -> None:
    comms, server = pushed
    assert pull(comms, task_ids="fan", map_indexes=2) == "c"
    assert pull(comms, task_ids="fan", map_indexes=1, default="d") == "d"
    assert pull(comms, task_ids="fan", map_indexes=[2, 1, 0], default="-") == ["c", "-", "a"]
    assert pull(comms, task_ids="fan", map_indexes=range(2)) == ["a", None]
    assert pull(comms, task_ids=["fan", "one"], map_indexes=0) == ["a", 1]
    assert pull(comms, task_ids=["fan", "one"], map_indexes=[0, 2]) == ["a", "c", 1, None]
    assert server.requests[-1] == PullXCom("one", RETURN_VALUE, [0, 2], "d", "r")
    count = len(server.requests)
    assert pull(comms, task_ids="fan", map_indexes=[]) == []
    assert len(server.requests) == count  # nothing to ask


def test_dag_id_and_run_id_are_passed_on_for_the_server_to_check(pushed: Served) -> None:
    comms, server = pushed
    pull(comms, task_ids="single", dag_id="other", run_id="r2")
    assert server.requests == [PullXCom("single", RETURN_VALUE, None, "other", "r2")]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"map_indexes": "0"}, "map_indexes takes an int or a list of ints, not str"),
        ({"map_indexes": True}, "not bool"),
        ({"map_indexes": [0, "1"]}, "map_indexes holds '1'"),
        ({"task_ids": ["a", 1]}, "task_ids holds 1"),
    ],
)
def test_bad_arguments_are_usage_errors(
    pushed: Served, kwargs: dict[str, Any], message: str
) -> None:
    comms, server = pushed
    with pytest.raises(UsageError, match=message):
        pull(comms, **kwargs)
    assert server.requests == []


def test_xcom_push_sends_the_json_text(served: Served) -> None:
    comms, server = served
    xcom_push(comms, "k", {"a": [1, None]}, 100)
    xcom_push(comms, "none", None, 100)  # stored as null, as Airflow does
    assert server.requests == [PushXCom("k", b'{"a":[1,null]}'), PushXCom("none", b"null")]


@pytest.mark.parametrize(
    ("key", "value", "error", "message"),
    [
        ("", 1, InvalidKeyError, "must not be empty"),
        ("k", {1, 2}, InvalidValueError, "set is not JSON-serializable"),
        ("k", [math.inf], InvalidValueError, "inf is not a JSON number"),
        ("k", "x" * 20, ValueTooLargeError, "over the limit of 16"),
    ],
)
def test_xcom_push_refuses_before_sending(
    served: Served, key: str, value: Any, error: type[Exception], message: str
) -> None:
    comms, server = served
    with pytest.raises(error, match=message):
        xcom_push(comms, key, value, 16)
    assert server.requests == []


def test_multiple_outputs_pushes_each_key(served: Served) -> None:
    comms, server = served
    push_multiple_outputs(comms, {"a": 1, "b": None, "c": [2]}, 100)
    assert server.requests == [PushXCom("a", b"1"), PushXCom("b", b"null"), PushXCom("c", b"[2]")]
    push_multiple_outputs(comms, None, 100)  # returned nothing: nothing pushed
    assert len(server.requests) == 3


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([1, 2], "must return a dict, not list"),
        ({"a": 1, 2: "b"}, "must have str keys, found 2 \\(int\\)"),
        ({"a": 1, "b": math.nan}, "nan is not a JSON number"),
    ],
)
def test_multiple_outputs_refuses_anything_but_a_dict_of_json(
    served: Served, value: Any, message: str
) -> None:
    comms, server = served
    with pytest.raises(InvalidValueError, match=message):
        push_multiple_outputs(comms, value, 100)
    assert server.requests == []  # not even the good items


def test_the_context_ti_pushes_and_pulls(pushed: Served) -> None:
    comms, _ = pushed
    info = TaskInstanceInfo("ti-1", "d", "r", "own", 2, 1)
    ti = RuntimeTaskInstance(
        "ti-1", "d", "r", "own", 2, 1, 0, None, _comms=comms, _info=info, _max_value_bytes=100
    )
    ti.xcom_push("k", [1])
    assert ti.xcom_pull(task_ids="own", key="k") == [1]
    assert ti.xcom_pull("fan", map_indexes=0) == "a"
    with pytest.raises(UsageError, match="include_prior_dates"):
        ti.xcom_pull("fan", include_prior_dates=True)
    with pytest.raises(UsageError, match="own DAG run only"):
        ti.xcom_pull("fan", run_id="other")
