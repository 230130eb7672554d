"""Mapped tasks: ``expand`` makes one task instance per value, each with its own map_index
and its own task state; downstream tasks wait for every instance."""

from datetime import UTC, datetime

from taskstate.sdk import DAG, task

with DAG(dag_id="e2e_mapped", start_date=datetime(2026, 1, 1, tzinfo=UTC)):

    @task
    def start():
        print("start ran")

    @task(retries=1)
    def square(x, task_state, ti, map_index):
        task_state.set("input", x)
        if x == 3 and ti.try_number == 1:
            raise RuntimeError("x=3 fails its first try")
        assert task_state.get("input") == x  # never another instance's value
        print(f"square map_index={map_index} try={ti.try_number} x={x} -> {x * x}")

    @task
    def collect():
        print("collect ran")

    @task
    def add(a, b, offset, map_index):
        print(f"add map_index={map_index}: {a} + {b} + {offset} = {a + b + offset}")

    @task
    def fragile(n):
        if n == 1:
            raise ValueError("instance 1 fails")

    @task
    def after_fragile():
        print("after_fragile ran")

    start() >> square.expand(x=[1, 2, 3]) >> collect()
    add.partial(offset=100).expand(a=[1, 2], b=[10, 20])
    fragile.expand(n=[0, 1]) >> after_fragile()
