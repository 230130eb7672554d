"""Mappings over ``[workers] max_map_length`` (the test sets it to 3): over an upstream output
or over a literal list, each fails its task without a try; a mapping within it runs."""

from datetime import UTC, datetime

from taskstate.sdk import DAG, task

with DAG(dag_id="e2e_map_limit", start_date=datetime(2026, 1, 1, tzinfo=UTC)):

    @task
    def four_items():
        return [1, 2, 3, 4]

    @task
    def three_items():
        return [1, 2, 3]

    @task
    def too_many(x):
        print(f"too_many got {x}")

    @task
    def literal_too_many(x):
        print(f"literal_too_many got {x}")

    @task
    def fits(x, map_index):
        print(f"fits map_index={map_index} x={x}")

    @task
    def after_too_many():
        print("after_too_many ran")

    @task
    def after_literal():
        print("after_literal ran")

    @task
    def after_fits():
        print("after_fits ran")

    too_many.expand(x=four_items()) >> after_too_many()
    literal_too_many.expand(x=[1, 2, 3, 4]) >> after_literal()
    fits.expand(x=three_items()) >> after_fits()
