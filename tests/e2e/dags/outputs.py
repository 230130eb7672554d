"""Data between tasks: ``load(extract())``, items of an output, ``partial`` with an output and
``expand`` over outputs crossed with a literal list, a mapped output passed on, an empty
mapping, and mapped instances that retry or clear their own state."""

from datetime import UTC, datetime

from taskstate.sdk import DAG, task

with DAG(dag_id="e2e_outputs", start_date=datetime(2026, 1, 1, tzinfo=UTC)):

    @task
    def extract():
        return {"rows": [1, 2, 3], "source": "db"}

    @task
    def load(data, rows):
        print(f"load got {data!r} and rows={rows!r}")
        return sum(rows)

    @task
    def numbers():
        return [1, 2]

    @task
    async def scale(x, factor, offset):
        return x * factor + offset

    @task
    def collect(values, note):
        print(f"collect got {values!r} ({note})")

    @task
    def letters():
        return ["a", "b", "c"]

    @task(retries=1)
    def flaky(letter, task_state, ti):
        task_state.set(f"try{ti.try_number}", letter)
        if letter == "b" and ti.try_number == 1:
            raise RuntimeError("b fails its first try")
        return {"letter": letter, "keys": sorted(k for k in ("try1", "try2") if task_state.get(k))}

    @task
    def clears(letter, task_state, map_index):
        task_state.set("mark", letter)
        if map_index == 0:
            task_state.clear()  # this instance's state only

    @task
    def nothing():
        return []

    @task
    def each(item):
        print(f"each got {item}")

    @task
    def after_each():
        print("after_each ran")

    source = extract()
    total = load(source, rows=source["rows"])
    scaled = scale.partial(factor=total).expand(x=numbers(), offset=[10, 20])
    collect(scaled, note=source["source"])
    names = letters()
    collect(flaky.expand(letter=names), "flaky")
    clears.expand(letter=names)
    each.expand(item=nothing()) >> after_each()
