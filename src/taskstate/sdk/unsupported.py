"""Airflow names taskstate does not build: importing one from ``taskstate.sdk`` raises
:class:`~taskstate.errors.UnsupportedFeatureError` naming the feature, instead of an
``ImportError`` that would not say why."""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["UNSUPPORTED_NAMES"]

_SENSORS = "sensors (waiting on a condition between pokes)"
_OTHER_PYTHON = "running a task in another Python environment"
_TIMETABLES = "timetables (runs are started by hand: use schedule=None, a cron string or assets)"
_CROSS_DAG = "dependencies between DAGs"
_HITL = "human-in-the-loop operators"

# Name -> the feature it belongs to.
UNSUPPORTED_NAMES: Mapping[str, str] = {
    "ApprovalOperator": _HITL,
    "AssetOrTimeSchedule": _TIMETABLES,
    "AssetWatcher": "asset watchers (event-driven scheduling)",
    "BaseNotifier": "notifiers (task and DAG callbacks)",
    "BaseSensorOperator": _SENSORS,
    "BashSensor": _SENSORS,
    "BranchDateTimeOperator": "BranchDateTimeOperator",
    "BranchDayOfWeekOperator": "BranchDayOfWeekOperator",
    "BranchExternalPythonOperator": _OTHER_PYTHON,
    "BranchPythonVirtualenvOperator": _OTHER_PYTHON,
    "CronDataIntervalTimetable": _TIMETABLES,
    "CronPartitionTimetable": _TIMETABLES,
    "CronTriggerTimetable": _TIMETABLES,
    "Dataset": "Dataset (Airflow 2's name: use Asset)",
    "DateTimeSensor": _SENSORS,
    "DayOfWeekSensor": _SENSORS,
    "DeadlineAlert": "deadline alerts",
    "DeadlineReference": "deadline alerts",
    "DeltaDataIntervalTimetable": _TIMETABLES,
    "DeltaTriggerTimetable": _TIMETABLES,
    "EventsTimetable": _TIMETABLES,
    "ExceptionRetryPolicy": "retry policies",
    "ExternalPythonOperator": _OTHER_PYTHON,
    "ExternalTaskMarker": _CROSS_DAG,
    "ExternalTaskSensor": _CROSS_DAG,
    "FileSensor": _SENSORS,
    "HITLBranchOperator": _HITL,
    "HITLEntryOperator": _HITL,
    "HITLOperator": _HITL,
    "LatestOnlyOperator": "LatestOnlyOperator (it depends on the schedule)",
    "Model": "Model (use Asset)",
    "MultipleCronTriggerTimetable": _TIMETABLES,
    "ObjectStoragePath": "ObjectStoragePath",
    "PokeReturnValue": _SENSORS,
    "PythonSensor": _SENSORS,
    "PythonVirtualenvOperator": _OTHER_PYTHON,
    "RetryAction": "retry policies",
    "RetryPolicy": "retry policies",
    "RetryRule": "retry policies",
    "TimeDeltaSensor": _SENSORS,
    "TimeSensor": _SENSORS,
    "TriggerDagRunOperator": "TriggerDagRunOperator (triggering other DAGs)",
    "WeekDay": "BranchDayOfWeekOperator",
}
