"""Retries: from ``default_args``, a task that succeeds on its third try, one that runs out of
retries, exponential backoff capped by ``max_retry_delay`` (tiny delays), and exceptions that
end a try otherwise: ``AirflowFailException`` (failed, no retry) and ``AirflowSkipException``
(skipped), also after a failed try."""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import DAG, task
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

with DAG(
    dag_id="retries",
    schedule=None,
    start_date=datetime(2026, 1, 1),
    default_args={"retries": 2, "retry_delay": timedelta(seconds=0)},
):

    @task
    def third_time_lucky(ti=None):
        if ti.try_number < 3:
            raise RuntimeError(f"try {ti.try_number} fails")
        return ti.try_number

    @task(retries=1)
    def always_fails():
        raise RuntimeError("every try fails")

    @task(
        retry_delay=timedelta(seconds=1),
        retry_exponential_backoff=True,
        max_retry_delay=timedelta(seconds=1),
    )
    def backoff(ti=None):
        if ti.try_number < 3:
            raise RuntimeError(f"try {ti.try_number} fails")
        return ti.try_number

    @task
    def fail_fast():
        raise AirflowFailException("no retry for this")

    @task
    def skip_me():
        raise AirflowSkipException("nothing to do")

    @task
    def fail_then_skip(ti=None):
        if ti.try_number == 1:
            raise RuntimeError("the first try fails")
        raise AirflowSkipException("the second try skips")

    @task
    def after(value):
        return value

    after(third_time_lucky())
    after.override(task_id="after_always_fails")(always_fails())
    backoff()
    fail_fast()
    skip_me() >> after.override(task_id="after_skip")("x")
    fail_then_skip()
