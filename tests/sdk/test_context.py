"""``get_current_context()``, and how a task's function is called with its context."""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import pytest

from taskstate.errors import UsageError
from taskstate.sdk import DAG, Asset, AssetAlias, Metadata, get_current_context, task
from taskstate.sdk.callables import call_with_context, determine_kwargs, is_async_callable
from taskstate.sdk.context import KNOWN_CONTEXT_KEYS, render_again, running_task

START = datetime(2026, 1, 1, tzinfo=UTC)
LOG = logging.getLogger(__name__)


def test_the_current_context_exists_only_while_a_task_runs() -> None:
    with pytest.raises(UsageError, match="outside a running task"):
        get_current_context()
    rendered: list[Any] = []
    with running_task({"run_id": "r"}, lambda op, ctx: rendered.append((op, ctx["run_id"]))):
        assert get_current_context() == {"run_id": "r"}
        render_again("op", get_current_context())
    assert rendered == [("op", "r")]
    render_again("op", {})  # no task running: nothing to render with


def test_a_task_reads_the_current_context_from_anywhere() -> None:
    def helper() -> str:
        return str(get_current_context()["run_id"])

    with DAG("d", start_date=START):

        @task
        def uses_helper() -> str:
            return helper()

        made = uses_helper()
    with running_task({"run_id": "r7"}):
        assert made.prepare(-1, {}).execute(get_current_context()) == "r7"


def test_keyword_arguments_come_from_the_call_over_the_context() -> None:
    def narrow(a: int, ti: Any = None, run_id: str = "") -> None: ...

    def wide(a: int, **kwargs: Any) -> None: ...

    merged = {"ti": 1, "run_id": "r", "dag": "d", "a": 5}
    assert determine_kwargs(narrow, (1,), merged) == {"ti": 1, "run_id": "r"}
    assert determine_kwargs(wide, (), merged) == merged
    assert {"ti", "params", "task_state", "asset_state_store", "map_index"} <= KNOWN_CONTEXT_KEYS


def test_async_functions_and_generators() -> None:
    async def coroutine(x: int) -> int:
        return x * 2

    class Events(defaultdict[Any, Any]):
        def __missing__(self, key: Any) -> Any:
            self[key] = entry = type("Entry", (), {"extra": {}, "added": []})()
            entry.add = lambda asset, extra: entry.added.append((asset, extra))
            return entry

    orders, alias = Asset("orders"), AssetAlias("by_day")

    def producer() -> Any:
        yield Metadata(orders, {"rows": 3})
        yield Metadata(orders, {"day": "mon"}, alias=alias)
        yield "ignored"
        return "done"

    assert is_async_callable(coroutine) and not is_async_callable(producer)
    assert call_with_context(coroutine, (4,), {}, {}, LOG) == 8
    events = Events()
    assert call_with_context(producer, (), {}, {"outlet_events": events}, LOG) == "done"
    assert events[orders].extra == {"rows": 3, "day": "mon"}
    assert events[alias].added == [(orders, {"day": "mon"})]
    with pytest.raises(UsageError, match="no outlet_events"):
        call_with_context(producer, (), {}, {}, LOG)
