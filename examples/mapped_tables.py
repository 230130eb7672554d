"""Data between tasks, and a task mapped over what an upstream task returned.

``get_tables`` returns the names of the tables to process; it is known only when it runs.
``process_table.expand(table=get_tables())`` becomes one task instance per name, each with its
own ``map_index``, its own tries and its own task state: every instance records a ``status``
and a ``result`` there, and returns its row count. ``summarize`` takes the list of the counts,
in map_index order, and prints the total.

    taskstate dags test examples/mapped_tables.py
    taskstate state list --dag-id mapped_tables
"""

from datetime import UTC, datetime

from taskstate.sdk import DAG, task

ROWS = {"customers": 120, "orders": 4_800, "payments": 3_150}
"""A stand-in for the tables of a real warehouse, and their row counts."""


with DAG(
    dag_id="mapped_tables",
    schedule=None,
    start_date=datetime(2026, 1, 1, tzinfo=UTC),
    tags=["example"],
):

    @task
    def get_tables():
        return sorted(ROWS)

    @task(retries=1)
    def process_table(table, task_state, map_index):
        task_state.set("status", "processing")
        rows = ROWS[table]  # a real task would copy or check the table here
        task_state.set("result", {"table": table, "rows": rows})
        task_state.set("status", "done")
        print(f"instance {map_index}: {table} has {rows} rows")
        return rows

    @task
    def summarize(counts):
        print(f"{len(counts)} tables, {sum(counts)} rows in all")
        return sum(counts)

    summarize(process_table.expand(table=get_tables()))
