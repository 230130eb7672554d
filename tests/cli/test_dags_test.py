"""``taskstate dags test FILE [LOGICAL_DATE] [--conf JSON]``: the arguments Airflow's
``dags test`` takes, and how bad ones are refused before anything runs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from taskstate.cli.common import parse_conf, parse_logical_date
from taskstate.errors import UsageError

Cli = Callable[..., Any]  # tests/cli/conftest.py: run the command, get a Result

DAG_SOURCE = """\
from datetime import UTC, datetime

from taskstate.sdk import DAG, Param, task

with DAG(dag_id="typed", start_date=datetime(2026, 1, 1, tzinfo=UTC)) as dag:

    @task
    def show(params=None):
        print("RAN", params)

    show()

dag.params = {"n": Param(1, type="integer", minimum=0), "label": "x"}
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-03-01", datetime(2026, 3, 1, tzinfo=UTC)),
        ("2026-03-01T06:30:00", datetime(2026, 3, 1, 6, 30, tzinfo=UTC)),
        ("2026-03-01 06:30", datetime(2026, 3, 1, 6, 30, tzinfo=UTC)),
        ("2026-03-01T06:30:00Z", datetime(2026, 3, 1, 6, 30, tzinfo=UTC)),
        (
            "2026-03-01T06:30:00+02:00",
            datetime(2026, 3, 1, 6, 30, tzinfo=timezone(timedelta(hours=2))),
        ),
        ("20260301", datetime(2026, 3, 1, tzinfo=UTC)),
    ],
)
def test_logical_dates_are_read_as_airflow_reads_them(text: str, expected: datetime) -> None:
    parsed = parse_logical_date(text)
    assert parsed == expected
    assert parsed.utcoffset() == expected.utcoffset()


@pytest.mark.parametrize("text", ["yesterday", "2026-02-30", "", "P1D", "2026-13-01"])
def test_bad_logical_dates_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError, match="LOGICAL_DATE takes a date or a datetime"):
        parse_logical_date(text)


def test_conf_is_a_json_object() -> None:
    assert parse_conf('{"x": 2, "y": [1, null]}') == {"x": 2, "y": [1, None]}
    with pytest.raises(UsageError, match="not valid JSON"):
        parse_conf("{x: 2}")
    with pytest.raises(UsageError, match="takes a JSON object"):
        parse_conf("[1, 2]")


@pytest.fixture
def dag_file(tmp_path: Path) -> Path:
    path = tmp_path / "typed_dag.py"
    path.write_text(DAG_SOURCE)
    return path


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["not-a-date"], "LOGICAL_DATE takes a date or a datetime"),
        (["--conf", "{oops"], "--conf takes a JSON object; '{oops' is not valid JSON"),
        (["--conf", '"text"'], "--conf takes a JSON object"),
    ],
    ids=["date", "conf-json", "conf-object"],
)
def test_bad_arguments_fail_before_anything_runs(
    args: list[str], message: str, cli: Cli, dag_file: Path
) -> None:
    result = cli("dags", "test", str(dag_file), *args)
    assert result.code == 2, result.stderr
    assert result.error.startswith(message)
    assert "RAN" not in result.stdout


def test_a_conf_value_its_param_refuses_fails_the_run_before_any_task(
    cli: Cli, dag_file: Path
) -> None:
    result = cli("dags", "test", str(dag_file), "2026-03-01", "--conf", '{"n": "many"}')
    assert result.code == 2, result.stdout + result.stderr
    assert result.error.startswith("param 'n': 'many' is not of type 'integer'")
    assert "RAN" not in result.stdout
    listed = cli("runs", "list", "--json")
    assert listed.code == 0 and listed.stdout.strip() == "[]"  # no run was registered


def test_a_missing_conf_value_for_a_required_param(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "required_dag.py"
    path.write_text(
        DAG_SOURCE.replace('dag_id="typed"', 'dag_id="required"').replace(
            'Param(1, type="integer", minimum=0)', 'Param(type="integer")'
        )
    )
    result = cli("dags", "test", str(path))
    assert result.code == 2
    assert result.error.startswith("param 'n' has no value")
    assert cli("dags", "test", str(path), "--conf", '{"n": 3}').code == 0
