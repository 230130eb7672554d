"""Outputs in the task process: fetched for the arguments, sent when the task returns."""

from __future__ import annotations

import math

import pytest

from taskstate.contracts.frames import (
    GetTaskOutput,
    SetTaskOutput,
)
from taskstate.contracts.types import TaskInstanceInfo
from taskstate.errors import InvalidValueError, ValueTooLargeError
from taskstate.runtime.comms import SupervisorComms
from taskstate.runtime.outputs import fetch_outputs, send_output

from .conftest import FrameServer

Served = tuple[SupervisorComms, FrameServer]

TI = TaskInstanceInfo("ti-1", "d", "r", "own", 2, 1)


def test_fetch_outputs_asks_for_each_task_of_its_own_run(served: Served) -> None:
    comms, server = served
    server.outputs[("d", "r", "extract")] = b'{"rows": [1, 2]}'
    server.outputs[("d", "other_run", "extract")] = b'"not this one"'

    assert fetch_outputs(comms, TI, {"silent", "extract"}) == {
        "extract": {"rows": [1, 2]},
        "silent": None,  # returned nothing
    }
    assert server.requests == [
        GetTaskOutput("d", "r", "extract"),
        GetTaskOutput("d", "r", "silent"),
    ]
    assert fetch_outputs(comms, TI, ()) == {}


def test_send_output_stores_json_and_skips_none(served: Served) -> None:
    comms, server = served
    send_output(comms, None, max_bytes=100)
    assert server.requests == []
    send_output(comms, {"total": 3, "none_inside": None}, max_bytes=100)
    assert server.requests == [SetTaskOutput(b'{"total":3,"none_inside":null}')]


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        ({1, 2}, InvalidValueError, "set is not JSON-serializable"),
        ({"x": math.nan}, InvalidValueError, r"nan is not a JSON number at \$.x"),
        ("x" * 20, ValueTooLargeError, "over the limit of 16"),
    ],
)
def test_an_output_that_cannot_be_stored_is_refused_before_sending(
    served: Served, value: object, error: type[Exception], message: str
) -> None:
    comms, server = served
    with pytest.raises(error, match=message):
        send_output(comms, value, max_bytes=16)
    assert server.requests == []
