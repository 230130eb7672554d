"""Outputs that cannot be used: mapped over while not a list, not JSON, over the size limit, an
item the output does not have."""

from datetime import UTC, datetime

from taskstate.sdk import DAG, task

with DAG(dag_id="e2e_bad_outputs", start_date=datetime(2026, 1, 1, tzinfo=UTC)):

    @task
    def a_dict():
        return {"a": 1}

    @task
    def per_key(key):
        print(f"per_key got {key}")

    @task(retries=1)
    def returns_a_set():
        print("returning a set")
        return {1, 2}

    @task
    def returns_too_much():
        return "x" * 2000

    @task
    def takes(value):
        print(f"takes got {value!r}")

    a_dict_output = a_dict()
    per_key.expand(key=a_dict_output)
    takes(returns_a_set())
    takes(returns_too_much())
    takes(a_dict_output["missing"])
    per_key.expand(key=a_dict_output["nope"])
