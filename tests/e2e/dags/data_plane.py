"""XComs, asset events and try outcomes through real runs: tasks push XComs that another pulls
(one, a list, a mapped task's), a task records an event with an extra that a task of the same
and of a later run reads through ``inlet_events``, and tries end skipped or failed for good.

``end_try`` stands in for raising ``AirflowSkipException`` / ``AirflowFailException``, which
this branch's SDK does not define: the task process exits with the codes it would use for them.
"""

import os
import sys
from datetime import UTC, datetime

from taskstate.sdk import DAG, Asset, task

LAKE = Asset(name="e2e_lake", uri="s3://e2e/lake")
SKIPPED = 103  # taskstate.contracts.frames.EXIT_SKIPPED
FAILED_NO_RETRY = 104  # taskstate.contracts.frames.EXIT_FAILED_NO_RETRY


def end_try(code):
    sys.stdout.flush()
    os._exit(code)


with DAG(dag_id="e2e_data_plane", start_date=datetime(2026, 1, 1, tzinfo=UTC)):

    @task
    def push(ti):
        ti.xcom_push("config", {"batch": 7})
        return "pushed"

    @task
    def other(ti):
        ti.xcom_push("config", {"batch": 8})

    @task
    def fan(n, ti):
        ti.xcom_push("square", n * n)
        return n + 1

    @task
    def pull(ti):
        print("single", ti.xcom_pull(task_ids="push", key="config"))
        print("return", ti.xcom_pull(task_ids="push"))
        print("list", ti.xcom_pull(task_ids=["push", "other"], key="config"))
        print("mapped", ti.xcom_pull(task_ids="fan"))
        print("mapped key", ti.xcom_pull(task_ids="fan", key="square"))
        print("one index", ti.xcom_pull(task_ids="fan", map_indexes=1))
        print("default", ti.xcom_pull(task_ids="push", key="nope", map_indexes=-1, default="d"))

    @task(outlets=[LAKE])
    def write(outlet_events, dag_run):
        outlet_events[LAKE].extra["run"] = dag_run.run_id

    @task(inlets=[LAKE])
    def read(inlet_events):
        events = inlet_events[LAKE]
        print("events", [event.extra["run"] for event in events])
        newest = events[-1]
        print("newest", newest.source_dag_id, newest.source_run_id, newest.source_task_id)

    @task(retries=2)
    def skips():
        end_try(SKIPPED)

    @task
    def after_skip():
        print("after_skip ran")

    @task(retries=2)
    def gives_up(ti):
        print(f"gives_up try {ti.try_number}")
        end_try(FAILED_NO_RETRY)

    [push(), other(), fan.expand(n=[1, 2, 3])] >> pull()
    write() >> read()
    skips() >> after_skip()
    gives_up()
