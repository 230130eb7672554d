"""When a DAG run is for, as Airflow dates it: its logical date and data interval."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from taskstate.errors import UsageError

__all__ = ["RunDates"]


@dataclass(frozen=True)
class RunDates:
    """When a run is for, as Airflow dates it: its logical date and data interval (all three
    timezone-aware, or all None)."""

    logical_date: datetime | None = None
    data_interval_start: datetime | None = None
    data_interval_end: datetime | None = None

    @classmethod
    def checked(
        cls,
        logical_date: datetime | None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> RunDates:
        """The dates of a new run; without a data interval, the run's is its logical date
        (as Airflow infers it for a manual run of every built-in schedule)."""
        given = {
            "logical_date": logical_date,
            "data_interval_start": start,
            "data_interval_end": end,
        }
        naive = [
            name for name, value in given.items() if value is not None and value.tzinfo is None
        ]
        if naive:
            raise UsageError(
                f"{', '.join(naive)} must be timezone-aware (e.g. 2026-03-01T00:00:00+00:00)",
                detail={"fields": naive},
            )
        if (start is None) != (end is None):
            raise UsageError("give both ends of the data interval, or neither")
        if start is not None and end is not None:
            if logical_date is None:
                raise UsageError("a run with a data interval needs a logical date")
            if start > end:
                raise UsageError(
                    f"the data interval starts ({start.isoformat()}) after it ends "
                    f"({end.isoformat()})"
                )
        elif logical_date is not None:
            start = end = logical_date
        return cls(logical_date, start, end)
