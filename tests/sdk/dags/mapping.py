"""Mapping: classic and TaskFlow, expand_kwargs, mapped task groups, @dag params."""

from datetime import datetime

from taskstate.sdk import (
    BashOperator,
    EmptyOperator,
    PythonOperator,
    dag,
    task,
    task_group,
)


def add_one(x: int) -> int:
    return x + 1


@dag(start_date=datetime(2026, 1, 1), schedule=None, default_args={"retries": 2})
def sdk_mapping(factor: int = 3, label: str = "m"):
    @task
    def numbers() -> list[int]:
        return [1, 2, 3]

    @task(multiple_outputs=True)
    def settings() -> dict[str, int]:
        return {"offset": 10}

    @task
    def inferred() -> dict[str, int]:
        return {"a": 1}

    @task
    def scale(x: int, factor: int, offset: int) -> int:
        return x * factor + offset

    @task
    def total(values: list[int]) -> int:
        return sum(values)

    nums = numbers()
    conf = settings()
    scaled = scale.partial(factor=factor, offset=conf["offset"]).expand(x=nums)
    total(scaled)
    inferred()

    bash = BashOperator.partial(task_id="bash_each", retries=1).expand(
        bash_command=["echo 1", "echo 2"]
    )
    classic = PythonOperator.partial(task_id="classic_each", python_callable=add_one).expand_kwargs(
        [{"op_args": [1]}, {"op_args": [2]}]
    )
    bash >> classic

    @task
    def describe(x: int, label: str) -> str:
        return f"{label}{x}"

    @task
    def shout(text: str) -> str:
        return text.upper()

    @task_group
    def per_number(x: int):
        described = describe(x, label)
        EmptyOperator(task_id="marker") >> described
        return shout(described)

    shouted = per_number.expand(x=nums)
    total.override(task_id="count")(shouted)
    per_number.override(group_id="literal").expand(x=[5, 6])


sdk_mapping()
