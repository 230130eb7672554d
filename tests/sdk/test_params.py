"""``Param``, ``ParamsDict`` and how a run's params are resolved: the DAG's, the task's, then
the run's conf, each value checked against its JSON Schema."""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace

import pytest

from taskstate.errors import DagDefinitionError, ParamValidationError
from taskstate.sdk import Param, ParamsDict
from taskstate.sdk.params import NOTSET, dag_params, resolve_params


def test_plain_values_and_params_resolve_to_their_defaults() -> None:
    declared = {"n": Param(3, type="integer", minimum=1), "label": "x", "nothing": None}
    assert resolve_params(declared) == {"n": 3, "label": "x", "nothing": None}


def test_conf_overrides_task_params_which_override_dag_params() -> None:
    dag = {"a": Param(1, type="integer"), "b": "dag", "c": "dag"}
    task = {"b": "task", "c": "task"}
    assert resolve_params(dag, task, {"c": "conf", "extra": [1, 2]}) == {
        "a": 1,
        "b": "task",
        "c": "conf",
        "extra": [1, 2],  # a conf key that names no param becomes one, as in Airflow
    }


def test_a_task_param_replaces_the_dag_param_schema_included() -> None:
    dag = {"x": Param(1, type="integer")}
    # The task's plain value replaces the typed param, so the conf's string is accepted.
    assert resolve_params(dag, {"x": 5}, {"x": "text"}) == {"x": "text"}


def test_a_conf_value_is_checked_against_the_schema_it_overrides() -> None:
    with pytest.raises(ParamValidationError) as caught:
        resolve_params({"x": Param(1, type="integer", minimum=0)}, None, {"x": "abc"})
    error = caught.value
    assert error.message.startswith("param 'x': 'abc' is not of type 'integer'")
    assert "'type' rule" in error.message
    assert error.detail["param"] == "x"
    assert error.detail["rule"] == "type"
    assert error.detail["schema"] == {"type": "integer", "minimum": 0}
    assert isinstance(error, ValueError)  # as Airflow's ParamValidationError is


def test_a_refused_default_fails_without_conf() -> None:
    with pytest.raises(ParamValidationError, match=r"param 'n': -1 is less than the minimum of 0"):
        resolve_params({"n": Param(-1, type="integer", minimum=0)})


def test_a_param_without_default_needs_the_conf() -> None:
    declared = {"who": Param(type="string")}
    with pytest.raises(ParamValidationError, match="param 'who' has no value"):
        resolve_params(declared)
    assert resolve_params(declared, None, {"who": "me"}) == {"who": "me"}


def test_nested_failures_say_where() -> None:
    declared = {"cfg": Param({"a": "b"}, type="object", properties={"a": {"type": "integer"}})}
    with pytest.raises(ParamValidationError, match=r"param 'cfg' at \$\.a: 'b' is not of type"):
        resolve_params(declared)


def test_formats_are_checked() -> None:
    declared = {"day": Param("2026-03-01", type="string", format="date")}
    assert resolve_params(declared) == {"day": "2026-03-01"}
    with pytest.raises(ParamValidationError, match="is not a 'date'"):
        resolve_params(declared, None, {"day": "2026-13-01"})


def test_the_schema_may_be_given_whole() -> None:
    param = Param(2, "two", schema={"type": "integer", "enum": [1, 2]})
    assert param.schema == {"type": "integer", "enum": [1, 2]}
    assert param.description == "two"
    with pytest.raises(ParamValidationError, match="is not one of"):
        param.resolve(3, name="p")
    with pytest.raises(DagDefinitionError, match="not both"):
        Param(1, schema={"type": "integer"}, minimum=0)


def test_an_invalid_schema_is_refused_at_definition() -> None:
    with pytest.raises(DagDefinitionError, match="is not a valid JSON Schema"):
        Param(1, type="integr")


def test_defaults_and_values_must_be_json() -> None:
    with pytest.raises(ParamValidationError, match="not a JSON value"):
        Param(datetime(2026, 1, 1))
    with pytest.raises(ParamValidationError, match=r"param 'x'.*not a JSON value"):
        resolve_params({"x": 1}, None, {"x": float("nan")})


def test_params_dict_reads_checked_values_and_keeps_param_objects() -> None:
    params = ParamsDict({"n": Param(1, type="integer"), "s": "text"})
    assert params["n"] == 1 and params["s"] == "text"
    assert isinstance(params.get_param("n"), Param)
    assert all(isinstance(p, Param) for p in params.values())
    assert [name for name, _ in params.items()] == ["n", "s"]
    params["n"] = 7
    assert params["n"] == 7
    with pytest.raises(ParamValidationError, match="param 'n'"):
        params["n"] = "seven"
    assert params["n"] == 7  # a refused value changes nothing
    params["n"] = Param("now a string")  # a Param replaces the param, schema and all
    assert params["n"] == "now a string"
    del params["s"]
    assert list(params) == ["n"] and len(params) == 1 and "n" in params


def test_params_dict_copies_do_not_share_values() -> None:
    shared = Param(1, type="integer")
    first = ParamsDict({"n": shared})
    first["n"] = 2
    assert shared.value == 1
    second = ParamsDict(first)
    second["n"] = 3
    assert first["n"] == 2 and second["n"] == 3
    assert first.dump() == {"n": 2}
    assert ParamsDict({"r": Param(type="string")}).dump() == {"r": None}


def test_notset_survives_copies() -> None:
    param = Param(type="string")
    assert param.value is NOTSET and not param.has_value
    assert ParamsDict({"p": param}).get_param("p").value is NOTSET


def test_dag_params_merge_default_args_over_params() -> None:
    dag = SimpleNamespace(
        params=ParamsDict({"a": Param(1, type="integer"), "b": "dag"}),
        default_args={"params": {"b": "default_args"}},
    )
    merged = dag_params(dag)
    assert isinstance(merged["a"], Param)
    assert resolve_params(merged) == {"a": 1, "b": "default_args"}
    assert dag_params(SimpleNamespace()) == {}
