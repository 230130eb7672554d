"""Logging, output, failures and timeouts, each try logged to a file of its own
(tests/e2e/test_logs.py)."""

import json
import logging
import sys
import time
from datetime import UTC, datetime, timedelta

from taskstate.sdk import DAG, task

log = logging.getLogger("etl.orders")

with DAG(dag_id="e2e_logs", start_date=datetime(2026, 1, 1, tzinfo=UTC)):

    @task
    def talk():
        print("printed to stdout")
        print("printed to stderr", file=sys.stderr)
        logging.info("root logger at info")
        log.warning("named logger at warning")
        logging.debug("debug is below the default level")

    @task(retries=1)
    def flaky(ti):
        log.info("try %d", ti.try_number)
        if ti.try_number == 1:
            json.loads("{not json")

    @task
    def each(n):
        log.info("item %d", n)

    @task
    def broken():
        raise ValueError("broken on purpose")

    @task
    def never():
        pass

    @task(execution_timeout=timedelta(seconds=1))
    def sleepy():
        time.sleep(30)

    @task(execution_timeout=timedelta(seconds=1), retries=1)
    def sleepy_retried():
        time.sleep(30)

    talk()
    flaky()
    each.expand(n=[1, 2])
    broken() >> never()
    sleepy()
    sleepy_retried()
