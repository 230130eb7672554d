"""Building the Airflow virtualenv (``taskstate.testing.airflow.install_airflow``): what is
trusted, what is cleaned up, and what happens when it cannot be built. The build that works
is exercised by every test in ``tests/airflow``; here pip is given a wheel that does not
exist, so that nothing is downloaded."""

from __future__ import annotations

from pathlib import Path

import pytest

from taskstate.testing.airflow import AirflowInstallation, airflow_env, cache_root
from taskstate.testing.airflow._install import COMPLETE_MARKER, _name, install_airflow

VERSION = "0.0.0"
BROKEN = "/nonexistent/apache_airflow-0.0.0-py3-none-any.whl"


def test_the_cache_is_under_the_home_unless_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TASKSTATE_TEST_CACHE", raising=False)
    assert cache_root() == Path.home() / ".cache" / "taskstate-tests"
    monkeypatch.setenv("TASKSTATE_TEST_CACHE", "/somewhere")
    assert cache_root() == Path("/somewhere")


def test_a_complete_installation_is_used_as_it_is(tmp_path: Path) -> None:
    root = tmp_path / _name(VERSION)
    root.mkdir()
    (root / COMPLETE_MARKER).write_text(VERSION)
    assert install_airflow(VERSION, cache=tmp_path, requirement=BROKEN) == AirflowInstallation(
        root, VERSION
    )


def test_a_failed_build_skips_and_leaves_nothing_to_trust(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CI", raising=False)
    root = tmp_path / _name(VERSION)
    root.mkdir()  # a directory without the marker: an unfinished build, not to be trusted
    (tmp_path / f".{root.name}.killed").mkdir()  # what a killed build left behind
    with pytest.raises(pytest.skip.Exception, match="could not be installed") as skipped:
        install_airflow(VERSION, cache=tmp_path, requirement=BROKEN)
    assert "need `pip install apache-airflow==0.0.0` to reach a package index" in str(skipped.value)
    assert "nonexistent" in str(skipped.value)  # the build log's tail says why
    assert sorted(path.name for path in tmp_path.iterdir()) == [
        f"{root.name}.{e}" for e in ("lock", "log")
    ]


def test_under_ci_a_failed_build_fails(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match=r"CI=true: not skipping"):
        install_airflow(VERSION, cache=tmp_path, requirement=BROKEN)


def test_airflow_commands_get_a_home_of_their_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRFLOW__CORE__LOAD_EXAMPLES", "True")
    monkeypatch.setenv("TASKSTATE_HOME", "/elsewhere")
    env = airflow_env(Path("/h"))
    assert env["AIRFLOW_HOME"] == "/h"
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == "/h/dags"
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == "sqlite:////h/airflow.db"
    assert "TASKSTATE_HOME" not in env
