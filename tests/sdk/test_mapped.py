"""Classic operators mapped over their arguments: ``partial(...).expand(...)``/``expand_kwargs``."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from taskstate.errors import DagDefinitionError, UnmappableOutputError
from taskstate.sdk import (
    DAG,
    BashOperator,
    EmptyOperator,
    MappedOperator,
    PythonOperator,
    ShortCircuitOperator,
    TaskGroup,
    task,
)
from taskstate.sdk.operators.branch import skips_downstream

from .conftest import Decide, Decided

START = datetime(2026, 1, 1, tzinfo=UTC)


@task
def commands() -> list[str]:
    return []


def test_a_mapped_operator_has_its_options_and_builds_each_instance() -> None:
    defaults = {"retries": 2, "env": {"A": "1"}}
    with DAG("d", start_date=START, default_args=defaults) as dag:
        listed = commands()
        with TaskGroup("g"):
            mapped = BashOperator.partial(task_id="run", trigger_rule="all_done").expand(
                bash_command=listed
            )
    assert isinstance(mapped, MappedOperator) and dag.tasks["g.run"] is mapped
    assert (mapped.retries, mapped.trigger_rule) == (2, "all_done")
    assert mapped.is_mapped and mapped.maps_over_outputs and mapped.map_indices == [-1]
    assert mapped.upstream_task_ids == {"commands"} and mapped.output_task_ids == {"commands"}
    assert mapped.template_fields == BashOperator.template_fields
    outputs = {"commands": ["echo a", "echo b"]}
    assert mapped.map_count(outputs) == 2
    instance = mapped.prepare(1, outputs)
    assert isinstance(instance, BashOperator) and instance.task_id == "g.run"
    assert (instance.bash_command, instance.env, instance.retries) == ("echo b", {"A": "1"}, 2)
    assert instance.upstream_task_ids == {"commands"} and instance.dag is dag
    assert dag.tasks["g.run"] is mapped  # building an instance adds nothing to the DAG
    with pytest.raises(UnmappableOutputError, match="which is str, not a list"):
        mapped.map_count({"commands": "echo"})
    with pytest.raises(DagDefinitionError, match="prepare"):
        mapped.execute({})


def test_expand_kwargs_and_literal_lists() -> None:
    def add(a: int, b: int = 0) -> int:
        return a + b

    with DAG("d", start_date=START):
        literal = PythonOperator.partial(task_id="add", python_callable=add).expand_kwargs(
            [{"op_args": [1]}, {"op_args": [2], "op_kwargs": {"b": 5}}]
        )
        from_output = PythonOperator.partial(task_id="from_output", python_callable=add)
        from_output_task = from_output.expand_kwargs(commands())
    assert literal.map_indices == [0, 1] and not literal.maps_over_outputs
    assert literal.prepare(1, {}).execute({}) == 7
    assert from_output_task.map_indices == [-1]
    assert from_output_task.map_count({"commands": [{"op_args": [1]}]}) == 1


def test_what_a_mapped_operator_refuses() -> None:
    with DAG("d", start_date=START):
        with pytest.raises(DagDefinitionError, match="cannot map over \\['retries'\\]"):
            EmptyOperator.partial(task_id="a").expand(retries=[1, 2])
        with pytest.raises(DagDefinitionError, match="unknown argument"):
            BashOperator.partial(task_id="b").expand(bash_comand=["x"])
        with pytest.raises(DagDefinitionError, match="both partial\\(\\) and expand\\(\\)"):
            BashOperator.partial(task_id="c", bash_command="x").expand(bash_command=["y"])
        with pytest.raises(DagDefinitionError, match="needs a task_id"):
            BashOperator.partial(bash_command="x")
        with pytest.raises(DagDefinitionError, match="at least one value"):
            BashOperator.partial(task_id="d").expand(bash_command=[])


def test_a_mapped_short_circuit_keeps_its_rule(decide: Decide) -> None:
    with DAG("d", start_date=START):
        gate = ShortCircuitOperator.partial(
            task_id="gate", ignore_downstream_trigger_rules=False
        ).expand(python_callable=[lambda: 0])
        gate >> EmptyOperator(task_id="next") >> EmptyOperator(task_id="last")
    assert skips_downstream(gate)
    # A mapped instance keeps its output: the runner skips by its decision alone.
    assert decide(gate.prepare(0, {}), map_index=0) == Decided(0, {"skipped": ["next"]}, False)
    plain = BashOperator.partial(task_id="plain", dag=gate.dag).expand(bash_command=["a"])
    assert not skips_downstream(plain)
