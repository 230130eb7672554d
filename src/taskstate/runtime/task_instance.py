"""``context["ti"]`` and ``context["dag_run"]``: the running task instance and its DAG run,
with the attributes Airflow's have that mean something here."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from taskstate.contracts.types import TaskInstanceInfo
from taskstate.errors import UsageError
from taskstate.runtime import xcom
from taskstate.runtime.comms import SupervisorComms

__all__ = ["DagRun", "RuntimeTaskInstance"]


@dataclass(frozen=True)
class DagRun:
    """``context["dag_run"]``: a run started by hand (``run_type`` ``"manual"``).

    Dates are timezone-aware (pendulum) datetimes, None for a run without a logical date;
    ``conf`` is the run's configuration (``{}`` when it was given none).
    """

    dag_id: str
    run_id: str
    logical_date: datetime | None
    data_interval_start: datetime | None
    data_interval_end: datetime | None
    start_date: datetime
    conf: dict[str, Any] = field(default_factory=dict)
    run_type: str = "manual"
    state: str = "running"
    end_date: datetime | None = None

    @property
    def run_after(self) -> datetime:
        """When the run could start: its logical date, or its start for a run without one."""
        return self.logical_date or self.start_date


@dataclass(frozen=True, eq=False)
class RuntimeTaskInstance:
    """``context["ti"]`` (and ``context["task_instance"]``): the running task instance.

    ``id`` is the same across its tries; ``max_tries`` is the task's ``retries``.
    """

    id: str
    dag_id: str
    run_id: str
    task_id: str
    map_index: int
    try_number: int
    max_tries: int
    task: Any = field(repr=False)
    logical_date: datetime | None = None
    _comms: SupervisorComms | None = field(default=None, repr=False)
    _info: TaskInstanceInfo | None = field(default=None, repr=False)
    _max_value_bytes: int = field(default=0, repr=False)

    @property
    def log(self) -> logging.Logger:
        """The task's logger."""
        return logging.getLogger("taskstate.task")

    def _channel(self) -> tuple[SupervisorComms, TaskInstanceInfo]:
        if self._comms is None or self._info is None:
            raise UsageError("this task instance is not running: it cannot reach XCom")
        return self._comms, self._info

    def xcom_push(self, key: str, value: Any) -> None:
        """Store ``value`` (a JSON document) under ``key`` for other tasks to pull."""
        comms, _ = self._channel()
        xcom.xcom_push(comms, key, value, self._max_value_bytes)

    def xcom_pull(
        self,
        task_ids: str | Iterable[str] | None = None,
        dag_id: str | None = None,
        key: str = xcom.RETURN_VALUE,
        include_prior_dates: bool = False,
        *,
        map_indexes: int | Iterable[int] | None = None,
        default: Any = None,
        run_id: str | None = None,
    ) -> Any:
        """The XCom ``key`` (default: the return value) of ``task_ids`` (default: this task)
        in this run: one value for one task id, a list for several.

        Only this DAG run's XComs can be pulled: another ``dag_id`` or ``run_id``, or
        ``include_prior_dates``, is a UsageError.
        """
        if dag_id not in (None, self.dag_id) or run_id not in (None, self.run_id):
            raise UsageError(
                f"xcom_pull(dag_id={dag_id!r}, run_id={run_id!r}): a task can pull XComs of its "
                f"own DAG run only ({self.dag_id!r}, {self.run_id!r})"
            )
        if include_prior_dates:
            raise UsageError("xcom_pull(include_prior_dates=True) is not supported")
        comms, info = self._channel()
        return xcom.xcom_pull(
            comms,
            info,
            task_ids=self.task_id if task_ids is None else task_ids,
            key=key,
            map_indexes=map_indexes,
            default=default,
        )
