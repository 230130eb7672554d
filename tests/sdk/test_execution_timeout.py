"""``@task(execution_timeout=...)``: a timedelta or seconds, positive, also from default_args."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from taskstate.errors import DagDefinitionError
from taskstate.sdk import DAG, task

START = datetime(2026, 1, 1, tzinfo=UTC)


def _noop() -> None: ...


@pytest.mark.parametrize(
    ("given", "limit"),
    [(timedelta(minutes=2), timedelta(minutes=2)), (1.5, timedelta(seconds=1.5)), (None, None)],
)
def test_execution_timeout_is_kept_as_a_timedelta(given: Any, limit: timedelta | None) -> None:
    with DAG("d", start_date=START):
        added = task(execution_timeout=given)(_noop)()
    assert added.execution_timeout == limit


def test_a_task_has_no_execution_timeout_by_default() -> None:
    with DAG("d", start_date=START):
        added = task(_noop)()
    assert added.execution_timeout is None


def test_default_args_give_the_execution_timeout_and_the_task_overrides_it() -> None:
    with DAG("d", start_date=START, default_args={"execution_timeout": timedelta(seconds=9)}):
        inherited = task(_noop)()
        own = task(task_id="own", execution_timeout=3)(_noop)()
    assert inherited.execution_timeout == timedelta(seconds=9)
    assert own.execution_timeout == timedelta(seconds=3)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (0, "execution_timeout must be positive, not 0"),
        (timedelta(seconds=-1), "execution_timeout must be positive"),
        ("60", "execution_timeout must be a timedelta or seconds, not '60'"),
        (True, "execution_timeout must be a timedelta or seconds, not True"),
        (float("inf"), "execution_timeout must be a timedelta or seconds, not inf"),
    ],
)
def test_a_bad_execution_timeout_is_refused(given: Any, message: str) -> None:
    with DAG("d", start_date=START), pytest.raises(DagDefinitionError, match=message):
        task(execution_timeout=given)(_noop)()
