from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from taskstate.errors import DagDefinitionError, InvalidIdentifierError
from taskstate.sdk import DAG, Asset, task
from taskstate.sdk.loader import load_dag, load_dag_file

START = datetime(2026, 1, 1, tzinfo=UTC)


def test_dependencies_between_tasks_and_lists() -> None:
    with DAG("d", start_date=START) as dag:

        @task
        def a() -> None: ...

        @task(retries=2, retry_delay=timedelta(seconds=3))
        def b() -> None: ...

        first = a()
        [b1, b2] = [b(), b()]
        first >> [b1, b2]
        last = a()
        [b1, b2] >> last
    assert [t.task_id for t in dag.topological_order()] == ["a", "b", "b__1", "a__1"]
    assert dag.tasks["a__1"].upstream_task_ids == {"b", "b__1"}
    assert dag.tasks["b"].retries == 2
    assert dag.tasks["b"].retry_delay == timedelta(seconds=3)


def test_left_shift_and_cycles() -> None:
    with DAG("d", start_date=START) as dag:

        @task
        def a() -> None: ...

        x, y = a(), a()
        x << y
        y << x
    with pytest.raises(DagDefinitionError, match="cycle"):
        dag.topological_order()


def test_definition_errors() -> None:
    with pytest.raises(DagDefinitionError, match="must be a datetime"):
        DAG("d", start_date="2026-01-01")  # type: ignore[arg-type]
    with pytest.raises(InvalidIdentifierError):
        DAG("bad id")

    @task
    def lonely() -> None: ...

    with pytest.raises(DagDefinitionError, match="outside"):
        lonely()
    with pytest.raises(DagDefinitionError, match="unknown @task option"):
        task(retires=3)
    with DAG("d", start_date=START):
        with pytest.raises(DagDefinitionError, match="whole number"):
            task(retries=-1)(lambda: None)()
        with pytest.raises(DagDefinitionError, match="Asset objects"):
            task(inlets=["orders"])(lambda: None)()


def test_assets_default_each_other_and_deduplicate() -> None:
    assert Asset(uri="s3://x") == Asset(name="s3://x", uri="s3://x")
    orders = Asset(name="orders", uri="s3://lake/orders")
    with DAG("d", start_date=START):

        @task(inlets=[orders], outlets=[orders, Asset("other")])
        def t() -> None: ...

        made = t()
    assert [a.name for a in made.assets] == ["orders", "other"]


def test_loading_a_dag_file(tmp_path: Path) -> None:
    (tmp_path / "helper_mod.py").write_text("VALUE = 7\n")
    dag_file = tmp_path / "flow.py"
    dag_file.write_text(
        "from datetime import datetime, timezone\n"
        "import helper_mod\n"
        "from taskstate.sdk import DAG, task\n"
        "with DAG('one', start_date=datetime(2026, 1, 1, tzinfo=timezone.utc)):\n"
        "    @task\n"
        "    def t():\n"
        "        return helper_mod.VALUE\n"
        "    t()\n"
        "with DAG('two'):\n"
        "    pass\n"
    )
    assert set(load_dag_file(dag_file)) == {"one", "two"}
    assert load_dag(dag_file, "one").tasks["t"].python_callable() == 7
    with pytest.raises(DagDefinitionError, match="several DAGs"):
        load_dag(dag_file)
    with pytest.raises(DagDefinitionError, match="no DAG 'three'"):
        load_dag(dag_file, "three")


def test_loading_broken_files(tmp_path: Path) -> None:
    with pytest.raises(DagDefinitionError, match="not found"):
        load_dag_file(tmp_path / "missing.py")
    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('nope')\n")
    with pytest.raises(DagDefinitionError, match="RuntimeError: nope"):
        load_dag_file(broken)
    empty = tmp_path / "empty.py"
    empty.write_text("x = 1\n")
    with pytest.raises(DagDefinitionError, match="defines no DAG"):
        load_dag_file(empty)
