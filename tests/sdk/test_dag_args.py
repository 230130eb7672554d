"""DAG arguments, ``@dag``, ``@asset``, asset expressions, and names taskstate refuses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pendulum
import pytest

from taskstate.errors import DagDefinitionError, UnsupportedFeatureError
from taskstate.sdk import (
    DAG,
    Asset,
    AssetAlias,
    AssetAll,
    AssetAny,
    EmptyOperator,
    Metadata,
    asset,
    dag,
    task,
)
from taskstate.sdk.dag_decorator import DagParam, resolve_dag_params
from taskstate.sdk.loader import load_dag_file
from taskstate.sdk.options import NO_EFFECT_DAG_ARGS


def test_dates_are_timezone_aware_a_naive_one_is_utc() -> None:
    naive = DAG("a", start_date=datetime(2026, 1, 1), end_date=datetime(2026, 2, 1))
    assert naive.start_date == datetime(2026, 1, 1, tzinfo=UTC)
    assert naive.end_date == datetime(2026, 2, 1, tzinfo=UTC)
    paris = timezone(timedelta(hours=1))
    assert DAG("b", start_date=datetime(2026, 1, 1, tzinfo=paris)).start_date.utcoffset() == (
        timedelta(hours=1)
    )
    tz_date = pendulum.datetime(2021, 1, 1, tz="UTC")
    assert DAG("c", start_date=tz_date).start_date is tz_date


@pytest.mark.parametrize(
    "schedule",
    [
        None,
        "@daily",
        "@once",
        "0 0 * * *",
        "*/5 * * * * 30",
        timedelta(days=1),
        Asset("a"),
        [Asset("a"), Asset("b")],
        Asset("a") | Asset("b"),
        (Asset("a") & Asset("b")) | AssetAlias("c"),
    ],
)
def test_schedules_are_recorded(schedule: Any) -> None:
    made = DAG("d", schedule=schedule)
    assert made.schedule == schedule


@pytest.mark.parametrize(
    ("schedule", "error", "message"),
    [
        ("@sometimes", DagDefinitionError, "unknown schedule preset"),
        ("daily", DagDefinitionError, "neither a preset nor a cron expression"),
        ([Asset("a"), "b"], DagDefinitionError, "holds assets"),
        (object(), UnsupportedFeatureError, "timetables"),
    ],
)
def test_bad_schedules(schedule: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        DAG("d", schedule=schedule)


def test_dag_arguments_built_accepted_or_refused() -> None:
    made = DAG(
        "d",
        template_searchpath="/templates",
        user_defined_macros={"m": 1},
        render_template_as_native_obj=True,
        params={"x": 1},
        tags=["t"],
        catchup=True,
        max_active_runs=1,
        dagrun_timeout=timedelta(hours=1),
        sla_miss_callback=print,
    )
    assert made.template_searchpath == ["/templates"] and made.user_defined_filters == {}
    assert made.user_defined_macros == {"m": 1} and made.render_template_as_native_obj
    assert made.params == {"x": 1} and made.tags == ["t"]
    assert (made.catchup, made.max_active_runs) == (True, 1)
    assert made.template_undefined is None and made.dag_display_name == "d"
    assert all(option.why for option in NO_EFFECT_DAG_ARGS.values())
    with pytest.raises(UnsupportedFeatureError, match="DAG callbacks"):
        DAG("e", on_failure_callback=print)
    with pytest.raises(UnsupportedFeatureError, match="fail_fast"):
        DAG("e", fail_fast=True)
    with pytest.raises(DagDefinitionError, match="unknown option"):
        DAG("e", schedule_interval="@daily")
    with pytest.raises(UnsupportedFeatureError, match=r"DAG\.test"):
        made.test()


def test_the_dag_decorator_builds_a_dag_whose_parameters_are_params() -> None:
    @dag(schedule=None, start_date=datetime(2026, 1, 1), tags=["x"])
    def pipeline(rows: int = 3, name: str = "n") -> None:
        """Pipeline doc."""

        @task
        def show(rows: int, name: str) -> str:
            return f"{name}{rows}"

        show(rows, name)

    made = pipeline(name="given")
    assert made.dag_id == "pipeline" and made.params == {"rows": 3, "name": "given"}
    assert made.doc_md == "Pipeline doc." and made.tags == ["x"]
    shown = made.tasks["show"]
    assert all(isinstance(a, DagParam) for a in shown.op_args)  # type: ignore[attr-defined]
    prepared = shown.prepare(-1, {})
    resolve_dag_params(prepared, {"params": {"rows": 7}})
    assert prepared.op_args == (7, "given")  # type: ignore[attr-defined]
    assert dag(dag_id="other")(lambda: None)().dag_id == "other"
    with pytest.raises(DagDefinitionError, match="missing a required argument: 'needs'"):
        dag()(lambda needs: None)()


def test_asset_expressions() -> None:
    a, b, c = Asset("a"), Asset("b"), Asset("c")
    assert a | b == AssetAny(a, b) and (a | b) | c == AssetAny(a, b, c)
    assert a & b & c == AssetAll(a, b, c)
    assert (a & b).iter_assets() == [a, b]  # type: ignore[attr-defined]
    assert Asset("n", extra={"k": 1}).extra == {"k": 1} and Asset("n").group == "asset"
    assert Metadata(a, {"rows": 1}).alias is None
    with pytest.raises(UnsupportedFeatureError, match=r"Asset\.ref"):
        Asset.ref(name="a")
    with pytest.raises(UnsupportedFeatureError, match="asset watchers"):
        Asset("w", watchers=(object(),))


def test_the_asset_decorator_makes_a_dag_with_one_task(tmp_path: Path) -> None:
    path = tmp_path / "assets.py"
    path.write_text(
        "from taskstate.sdk import asset, task\n"
        "@asset(uri='s3://bucket/raw', schedule=None)\n"
        "def raw():\n"
        "    return 1\n"
        "@asset(schedule=raw, name='clean_data')\n"
        "def clean(self, context, raw, other):\n"
        "    return (self.name, context['k'], raw.uri, other.uri)\n"
        "@asset(schedule=None)\n"
        "@task(retries=2)\n"
        "def flagged():\n"
        "    return 2\n"
    )
    dags = load_dag_file(path)
    assert set(dags) == {"raw", "clean_data", "flagged"}
    raw_task = dags["raw"].tasks["raw"]
    assert [a.uri for a in raw_task.outlets] == ["s3://bucket/raw"] and raw_task.inlets == ()
    clean = dags["clean_data"]
    assert clean.schedule.uri == "s3://bucket/raw"
    clean_task = clean.tasks["clean"]
    assert [a.name for a in clean_task.inlets] == ["raw", "other"]
    assert [a.name for a in clean_task.outlets] == ["clean_data"]
    result = clean_task.prepare(-1, {}).execute({"k": "v"})
    assert result == ("clean_data", "v", "s3://bucket/raw", "other")
    flagged = dags["flagged"].tasks["flagged"]
    assert flagged.retries == 2 and [a.name for a in flagged.outlets] == ["flagged"]


def both() -> None: ...


def test_asset_multi() -> None:
    a, b = Asset("ma"), Asset("mb")
    made = asset.multi(schedule=None, outlets=[a, b])(both)
    assert made.dag.dag_id == "both"  # type: ignore[attr-defined]
    assert made.dag.tasks["both"].outlets == (a, b)  # type: ignore[attr-defined]

    def nested() -> None: ...

    with pytest.raises(DagDefinitionError, match="nested function"):
        asset(schedule=None)(nested)


@pytest.mark.parametrize("name", ["TimeDeltaSensor", "ExternalPythonOperator", "AssetWatcher"])
def test_names_taskstate_does_not_build_are_refused_when_imported(
    tmp_path: Path, name: str
) -> None:
    path = tmp_path / "uses.py"
    path.write_text(f"from taskstate.sdk import DAG, {name}\n")
    with pytest.raises(UnsupportedFeatureError, match=f"{name} \\(imported from taskstate.sdk\\)"):
        load_dag_file(path)
    path.write_text("from taskstate.sdk import NoSuchName\n")
    with pytest.raises(DagDefinitionError, match="ImportError"):
        load_dag_file(path)


def test_an_unsupported_option_keeps_its_class_through_the_loader(tmp_path: Path) -> None:
    path = tmp_path / "uses.py"
    path.write_text(
        "from taskstate.sdk import DAG, EmptyOperator\n"
        "with DAG('d'):\n"
        "    EmptyOperator(task_id='t', depends_on_past=True)\n"
    )
    with pytest.raises(UnsupportedFeatureError) as caught:
        load_dag_file(path)
    assert caught.value.detail["feature"].startswith("depends_on_past")
    assert caught.value.detail["path"] == str(path)
    path.write_text("from taskstate.sdk import DAG, EmptyOperator\nwith DAG('d'):\n    pass\n")
    assert load_dag_file(path)["d"].fileloc == str(path)
    assert EmptyOperator is not None
