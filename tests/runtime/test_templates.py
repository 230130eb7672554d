"""Jinja templating of an operator's ``template_fields``, on stand-in operators with the
attributes the SDK's operators have (``template_fields``, ``template_ext``, ``dag``)."""

from __future__ import annotations

import subprocess
import sys
from collections import namedtuple
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import jinja2
import pytest

from taskstate.errors import TemplateError
from taskstate.runtime import macros
from taskstate.runtime.templates import render_template_fields
from taskstate.runtime.variables import variables

Pair = namedtuple("Pair", "left right")


class FakeTi:
    def xcom_pull(self, task_ids: str, key: str = "return_value") -> Any:
        return {"extract": [1, 2, 3]}[task_ids]


def make_dag(**attrs: Any) -> SimpleNamespace:
    return SimpleNamespace(dag_id="d", **attrs)


def make_op(dag: Any = None, **fields: Any) -> SimpleNamespace:
    return SimpleNamespace(
        task_id="t",
        dag=dag or make_dag(),
        template_fields=tuple(fields),
        template_ext=(".sql", ".sh"),
        **fields,
    )


CONTEXT: dict[str, Any] = {
    "ds": "2026-03-01",
    "params": {"x": 2, "name": "orders"},
    "macros": macros,
    "ti": FakeTi(),
    "var": variables({"AIRFLOW_VAR_REGION": "eu"}),
    "dag_run": SimpleNamespace(conf={"k": "v"}),
    "data_interval_end": datetime(2026, 3, 2, 6, 30, tzinfo=UTC),
}


def render(op: Any, context: dict[str, Any] | None = None, **options: Any) -> Any:
    render_template_fields(op, CONTEXT if context is None else context, **options)
    return op


def test_the_context_in_templates() -> None:
    op = render(
        make_op(
            ds="{{ ds }}",
            param="{{ params.x }}",
            xcom="{{ ti.xcom_pull(task_ids='extract') }}",
            tomorrow="{{ macros.ds_add(ds, 1) }}",
            var="{{ var.value.region }}",
            conf="{{ dag_run.conf.get('k') }}-{{ dag_run.conf.get('missing', 'd') }}",
            filtered="{{ data_interval_end | ds }} {{ data_interval_end | ts_nodash }}",
        )
    )
    assert op.ds == "2026-03-01"
    assert op.param == "2"
    assert op.xcom == "[1, 2, 3]"
    assert op.tomorrow == "2026-03-02"
    assert op.var == "eu"
    assert op.conf == "v-d"
    assert op.filtered == "2026-03-02 20260302T063000"


def test_strings_in_collections_and_nested_template_fields() -> None:
    inner = SimpleNamespace(template_fields=("sql",), sql="select '{{ ds }}'", other="{{ ds }}")
    op = render(
        make_op(
            items=["{{ ds }}", 1, None, ("{{ params.name }}", {"k": "{{ params.x }}"})],
            pair=Pair("{{ ds }}", 3),
            unique={"{{ params.name }}"},
            inner=inner,
        )
    )
    assert op.items == ["2026-03-01", 1, None, ("orders", {"k": "2"})]
    assert op.pair == Pair("2026-03-01", 3)
    assert op.unique == {"orders"}
    assert op.inner is inner
    assert inner.sql == "select '2026-03-01'"
    assert inner.other == "{{ ds }}"  # not one of its template fields


def test_fields_not_templated_and_empty_values_are_left_alone() -> None:
    marker = object()
    op = make_op(empty="", nothing=None, number=5, thing=marker)
    op.untouched = "{{ ds }}"
    render(op)
    assert (op.empty, op.nothing, op.number, op.thing) == ("", None, 5, marker)
    assert op.untouched == "{{ ds }}"


class Ambiguous:
    """Like a DataFrame: its truth cannot be told, yet its template fields are rendered."""

    template_fields = ("query",)

    def __init__(self) -> None:
        self.query = "{{ ds }}"

    def __bool__(self) -> bool:
        raise ValueError("ambiguous")


def test_a_value_of_ambiguous_truth_is_rendered() -> None:
    op = render(make_op(frame=Ambiguous()))
    assert op.frame.query == "2026-03-01"


def test_jinja_line_handling_applies_to_plain_strings_too() -> None:
    op = render(make_op(plain="no template", newline="line\n", crlf="a\r\nb"))
    assert (op.plain, op.newline, op.crlf) == ("no template", "line", "a\nb")


def test_template_files_from_the_dag_folder_then_the_searchpath(tmp_path: Path) -> None:
    dag_folder, shared = tmp_path / "dags", tmp_path / "shared"
    dag_folder.mkdir()
    shared.mkdir()
    (dag_folder / "local.sql").write_text("select * from {{ params.name }} where ds = '{{ ds }}'")
    (shared / "run.sh").write_text("echo {{ params.x }}\n")
    (shared / "local.sql").write_text("shadowed by the DAG folder's")
    dag = make_dag(template_searchpath=str(shared))
    op = render(
        make_op(dag, sql="local.sql", command="run.sh", text="not a file"), folder=dag_folder
    )
    assert op.sql == "select * from orders where ds = '2026-03-01'"
    assert op.command == "echo 2"
    assert op.text == "not a file"
    # Without a folder given, the DAG's fileloc names it.
    dag.fileloc = str(dag_folder / "dag.py")
    assert render(make_op(dag, sql="local.sql")).sql.startswith("select * from orders")


def test_a_missing_template_file(tmp_path: Path) -> None:
    with pytest.raises(TemplateError) as caught:
        render(make_op(sql="nowhere.sql"), folder=tmp_path)
    assert caught.value.message.startswith(
        "task 't', field 'sql': template file 'nowhere.sql' not found in "
    )
    assert caught.value.detail == {"field": "sql", "template": "nowhere.sql"}


def test_undefined_names_fail_by_default() -> None:
    with pytest.raises(TemplateError, match="task 't', field 'cmd': UndefinedError: 'nope' is"):
        render(make_op(cmd="echo {{ nope }}"))
    with pytest.raises(TemplateError, match="has no attribute 'missing'"):
        render(make_op(cmd="{{ params.missing }}"))


def test_the_dag_may_choose_another_undefined() -> None:
    op = render(make_op(make_dag(template_undefined=jinja2.Undefined), cmd="[{{ nope }}]"))
    assert op.cmd == "[]"


def test_syntax_errors_name_the_line() -> None:
    with pytest.raises(TemplateError, match=r"field 'cmd': TemplateSyntaxError \(line 2\)"):
        render(make_op(cmd="ok\n{{ ds "))


def test_user_defined_macros_and_filters_and_the_do_extension() -> None:
    dag = make_dag(
        user_defined_macros={"project": "lake", "ds": "not used: the context wins"},
        user_defined_filters={"shout": lambda s: s.upper() + "!"},
    )
    op = render(
        make_op(
            dag,
            a="{{ project }}/{{ ds }}",
            b="{{ params.name | shout }}",
            c="{% set l = [] %}{% do l.append(1) %}{{ l }}",
        )
    )
    assert (op.a, op.b, op.c) == ("lake/2026-03-01", "ORDERS!", "[1]")


def test_native_rendering() -> None:
    dag = make_dag(render_template_as_native_obj=True)
    op = render(make_op(dag, listed="{{ [params.x, 3] }}", number="123", text="{{ ds }}"))
    assert op.listed == [2, 3]
    assert op.number == 123
    assert op.text == "2026-03-01"
    # The operator's own choice wins over the DAG's.
    op = make_op(dag, listed="{{ [params.x, 3] }}")
    op.render_template_as_native_obj = False
    assert render(op).listed == "[2, 3]"


def test_the_sandbox_keeps_internals_out_and_lets_private_names_in() -> None:
    context = {**CONTEXT, "obj": SimpleNamespace(_private="ok")}
    assert render(make_op(a="{{ obj._private }}"), context).a == "ok"
    with pytest.raises(TemplateError, match="SecurityError"):
        render(make_op(a="{{ obj.__class__.__mro__ }}"), context)


def test_a_template_field_the_operator_lacks() -> None:
    op = make_op(a="x")
    op.template_fields = ("a", "b")
    with pytest.raises(TemplateError, match="'b' is a template field, but SimpleNamespace has no"):
        render(op)


def test_jinja_is_not_loaded_without_a_template() -> None:
    script = (
        "import sys\n"
        "from types import SimpleNamespace\n"
        "from taskstate.runtime.templates import render_template_fields\n"
        "op = SimpleNamespace(template_fields=('a', 'b'), a='plain', b=['x', 1])\n"
        "render_template_fields(op, {})\n"
        "print('jinja2' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=30
    )
    assert done.stdout.strip() == "False"
