"""``with`` on setup and teardown tasks; ``as_setup``/``as_teardown``."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from taskstate.errors import DagDefinitionError
from taskstate.sdk import DAG, EmptyOperator, TriggerRule, setup, task, teardown

START = datetime(2026, 1, 1, tzinfo=UTC)


@task
def work() -> None: ...


def test_as_setup_and_as_teardown() -> None:
    with DAG("d", start_date=START):
        create = EmptyOperator(task_id="create")
        delete = EmptyOperator(task_id="delete", trigger_rule="all_success")
        assert delete.as_teardown(setups=create, on_failure_fail_dagrun=True) is delete
        other = EmptyOperator(task_id="other").as_setup()
    assert create.is_setup and other.is_setup and delete.is_teardown
    assert delete.trigger_rule is TriggerRule.ALL_DONE_SETUP_SUCCESS
    assert delete.upstream_task_ids == {"create"} and delete.setup_task_ids == {"create"}
    assert delete.on_failure_fail_dagrun


def test_tasks_made_in_a_teardown_block_run_between_its_setups_and_it() -> None:
    @setup
    def create() -> str:
        return "r"

    @teardown
    def delete(resource: str) -> None: ...

    with DAG("d", start_date=START) as dag:
        resource = create()
        with delete(resource):
            first = work()
            second = work()
            first >> EmptyOperator(task_id="after_first")
    assert first.upstream_task_ids == second.upstream_task_ids == {"create"}
    assert dag.tasks["delete"].upstream_task_ids == {"create", "after_first", "work__1"}


def test_a_setup_block_and_nested_blocks() -> None:
    with DAG("d", start_date=START) as dag:
        outer_up = EmptyOperator(task_id="outer_up").as_setup()
        outer_down = EmptyOperator(task_id="outer_down").as_teardown(setups=outer_up)
        with outer_up:
            outer_work = EmptyOperator(task_id="outer_work")
        inner_up = EmptyOperator(task_id="inner_up").as_setup()
        inner_down = EmptyOperator(task_id="inner_down").as_teardown(setups=inner_up)
        with outer_up >> outer_down:
            with inner_up >> inner_down:
                inner_work = work()
            # As in Airflow: closing the inner block stops recording until another opens.
            unplaced = EmptyOperator(task_id="unplaced")
        with (
            pytest.raises(DagDefinitionError, match="only setup and teardown tasks"),
            outer_work,
        ):
            pass
    assert outer_work.upstream_task_ids == {"outer_up"}
    assert outer_down.upstream_task_ids == {"outer_up", "outer_work", "inner_down"}
    assert inner_work.upstream_task_ids == {"inner_up"}
    assert inner_up.upstream_task_ids == {"outer_up"}
    assert inner_down.upstream_task_ids == {"inner_up", "work"}
    assert unplaced.upstream_task_ids == set() and not unplaced.downstream_task_ids
    assert dag.tasks["outer_up"].is_setup


def test_a_setup_must_be_followed_by_all_success_tasks(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from taskstate.sdk.loader import load_dag_file

    path = tmp_path / "bad.py"
    path.write_text(
        "from taskstate.sdk import DAG, EmptyOperator\n"
        "with DAG('bad'):\n"
        "    up = EmptyOperator(task_id='up').as_setup()\n"
        "    up >> EmptyOperator(task_id='next', trigger_rule='all_done')\n"
    )
    with pytest.raises(DagDefinitionError, match="must have trigger rule all_success"):
        load_dag_file(path)
