"""``@task(execution_timeout=...)``: a positive timedelta (as Airflow 3 requires), also from
default_args."""

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
    [(timedelta(minutes=2), timedelta(minutes=2)), (None, None)],
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
        own = task(task_id="own", execution_timeout=timedelta(seconds=3))(_noop)()
    assert inherited.execution_timeout == timedelta(seconds=9)
    assert own.execution_timeout == timedelta(seconds=3)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (timedelta(0), "execution_timeout must be positive"),
        (timedelta(seconds=-1), "execution_timeout must be positive"),
        (60, "execution_timeout must be a timedelta, not int"),
        ("60", "execution_timeout must be a timedelta, not str"),
        (True, "execution_timeout must be a timedelta, not bool"),
    ],
)
def test_a_bad_execution_timeout_is_refused(given: Any, message: str) -> None:
    with DAG("d", start_date=START), pytest.raises(DagDefinitionError, match=message):
        task(execution_timeout=given)(_noop)()
