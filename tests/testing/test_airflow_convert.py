"""The import-line converter (``taskstate.testing.airflow.convert_imports``), on its own."""

from __future__ import annotations

from pathlib import Path

import pytest

import taskstate.sdk
from taskstate.errors import DagDefinitionError
from taskstate.testing.airflow import convert_file, convert_imports

EXPORTED = {"DAG", "BashOperator", "Label", "TaskGroup", "TriggerRule", "task", "teardown"}


def convert(source: str) -> str:
    return convert_imports(source, exported=EXPORTED)


def test_a_one_line_import_gets_the_new_module() -> None:
    assert convert("from airflow.sdk import DAG, task\n") == "from taskstate.sdk import DAG, task\n"
    assert convert("from airflow import DAG\n") == "from taskstate.sdk import DAG\n"


def test_aliases_parentheses_comments_and_lines_are_kept() -> None:
    source = (
        "from __future__ import annotations\n"
        "\n"
        "from airflow.providers.standard.operators.bash import (  # the shell\n"
        "    BashOperator as Bash,\n"
        "    # a comment between the names\n"
        "    Label,\n"
        ")\n"
        "x = 1\n"
    )
    assert convert(source) == source.replace(
        "airflow.providers.standard.operators.bash", "taskstate.sdk"
    )


def test_every_import_is_rewritten_wherever_it_stands() -> None:
    source = (
        "import os\n"
        "from typing import TYPE_CHECKING\n"
        "from airflow.sdk import DAG; from airflow.utils.trigger_rule import TriggerRule\n"
        "if TYPE_CHECKING:\n"
        "    from airflow.sdk.definitions.taskgroup import TaskGroup\n"
        "def f():\n"
        "    from airflow.sdk import teardown\n"
        "    return 'from airflow.sdk import task'  # from airflow import DAG\n"
    )
    assert convert(source) == (
        "import os\n"
        "from typing import TYPE_CHECKING\n"
        "from taskstate.sdk import DAG; from taskstate.sdk import TriggerRule\n"
        "if TYPE_CHECKING:\n"
        "    from taskstate.sdk import TaskGroup\n"
        "def f():\n"
        "    from taskstate.sdk import teardown\n"
        "    return 'from airflow.sdk import task'  # from airflow import DAG\n"
    )


def test_a_line_continuation_in_the_module_keeps_the_line_count() -> None:
    source = "from airflow.sdk \\\n    import DAG\nx = 'é'; from  airflow.sdk  import task\n"
    converted = convert(source)
    assert converted == (
        "from taskstate.sdk \\\n    import DAG\nx = 'é'; from  taskstate.sdk  import task\n"
    )
    assert converted.count("\n") == source.count("\n")


def test_a_continuation_inside_the_module_name_moves_after_it() -> None:
    assert convert("from airflow \\\n  .sdk import DAG\n") == (
        "from taskstate.sdk \\\n import DAG\n"
    )


def test_other_imports_are_left_alone() -> None:
    source = (
        "from airflowish import DAG\nfrom . import airflow\nimport json\nfrom x.airflow import y\n"
    )
    assert convert(source) == source


def test_what_cannot_be_converted_is_reported_at_once() -> None:
    source = (
        "import airflow\n"
        "import os, airflow.sdk as sdk\n"
        "from airflow.sdk import *\n"
        "from airflow.sdk import DAG, Variable, task\n"
        "from airflow.exceptions import AirflowFailException as Fail\n"
    )
    with pytest.raises(DagDefinitionError) as raised:
        convert_imports(source, exported=EXPORTED, filename="dags/x.py")
    assert raised.value.detail["problems"] == [
        "line 1: `import airflow` is not a from-import; write `from airflow import ...` so "
        "that it can be converted",
        "line 2: `import airflow.sdk` is not a from-import; write `from airflow.sdk import ...` "
        "so that it can be converted",
        "line 3: `from airflow.sdk import *`",
        "line 4: 'Variable' (from airflow.sdk) is not exported by taskstate.sdk",
        "line 5: 'AirflowFailException' (from airflow.exceptions) is not exported by taskstate.sdk",
    ]
    assert str(raised.value).startswith("dags/x.py cannot be converted")


def test_a_file_that_does_not_parse_is_refused() -> None:
    with pytest.raises(DagDefinitionError, match="is not valid Python"):
        convert("from airflow.sdk import (DAG\n")


def test_by_default_the_names_are_those_taskstate_sdk_exports() -> None:
    name = taskstate.sdk.__all__[0]
    assert convert_imports(f"from airflow.sdk import {name}\n") == (
        f"from taskstate.sdk import {name}\n"
    )
    with pytest.raises(DagDefinitionError, match="'NoSuchName'"):
        convert_imports("from airflow.sdk import NoSuchName\n")


def test_convert_file_writes_the_converted_copy(tmp_path: Path) -> None:
    source = tmp_path / "in.py"
    source.write_text("from airflow.sdk import DAG\n")
    target = convert_file(source, tmp_path / "out" / "dag.py", exported=EXPORTED)
    assert target.read_text() == "from taskstate.sdk import DAG\n"
    assert source.read_text() == "from airflow.sdk import DAG\n"
