"""Read back what ``airflow dags test`` left in an Airflow home's metadata database.

Run by the Airflow virtualenv's interpreter, never imported by taskstate::

    AIRFLOW_HOME=... python readback.py

prints, as JSON, every DAG run in the order they were created::

    [{"dag_id", "run_id", "state", "logical_date",
      "task_instances": [{"task_id", "map_index", "state", "try_number", "output"}]}]

where ``output`` is the task instance's ``return_value`` XCom as a task pulling it would see
it: deserialized by the Task SDK's XCom class (the scheduler side's ``XComModel`` would also
``json.loads`` a string, turning a BashOperator's ``"42"`` into ``42``), null when there is
none. A value that JSON cannot hold is written as ``{"__repr__": ...}``.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(item) for item in value]
    if isinstance(value, dict) and all(isinstance(key, str) for key in value):
        return {key: _jsonable(item) for key, item in value.items()}
    return {"__repr__": repr(value)}


def main() -> None:
    from airflow.models.dagrun import DagRun
    from airflow.models.taskinstance import TaskInstance
    from airflow.models.xcom import XComModel
    from airflow.sdk.bases.xcom import BaseXCom
    from airflow.utils.session import create_session
    from sqlalchemy import select

    runs: list[dict[str, Any]] = []
    with create_session() as session:
        for run in session.scalars(select(DagRun).order_by(DagRun.id)):
            outputs = {
                (row.task_id, row.map_index): BaseXCom.deserialize_value(row)
                for row in session.scalars(
                    select(XComModel).where(
                        XComModel.dag_run_id == run.id, XComModel.key == "return_value"
                    )
                )
            }
            instances = session.scalars(
                select(TaskInstance)
                .where(TaskInstance.dag_id == run.dag_id, TaskInstance.run_id == run.run_id)
                .order_by(TaskInstance.task_id, TaskInstance.map_index)
            )
            runs.append(
                {
                    "dag_id": run.dag_id,
                    "run_id": run.run_id,
                    "state": None if run.state is None else str(run.state),
                    "logical_date": None
                    if run.logical_date is None
                    else run.logical_date.isoformat(),
                    "task_instances": [
                        {
                            "task_id": ti.task_id,
                            "map_index": ti.map_index,
                            "state": None if ti.state is None else str(ti.state),
                            "try_number": ti.try_number,
                            "output": _jsonable(outputs.get((ti.task_id, ti.map_index))),
                        }
                        for ti in instances
                    ],
                }
            )
    json.dump(runs, sys.stdout)


if __name__ == "__main__":
    main()
