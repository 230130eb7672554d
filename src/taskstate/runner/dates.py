"""The dates of a manual run: its logical date and data interval, as Airflow 3.3.2 infers them.

``airflow dags test`` gives a run the logical date it is asked for (now, by default) and asks
the DAG's timetable for the data interval of a manual run. With Airflow's default settings
(``[scheduler] create_cron_data_intervals = False``), every plain ``schedule`` makes a timetable
whose manual data interval is the logical date itself, start and end: ``None`` (NullTimetable),
``"@once"``, ``"@continuous"``, cron presets and expressions (CronTriggerTimetable), a
``timedelta`` (DeltaTriggerTimetable) and asset schedules. Measured on Airflow 3.3.2 with
``infer_manual_data_interval(run_after=2026-03-01T10:30Z)``: start = end = 2026-03-01T10:30Z for
each of them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

__all__ = ["manual_data_interval"]


def manual_data_interval(schedule: Any, logical_date: datetime) -> tuple[datetime, datetime]:
    """The data interval of a manual run of a DAG with ``schedule`` at ``logical_date``.

    Every schedule taskstate accepts makes the exact interval (see the module docstring); the
    schedule is taken so that a timetable with real intervals has one place to plug in.
    """
    del schedule
    return logical_date, logical_date
