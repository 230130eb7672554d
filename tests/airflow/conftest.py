"""Fixtures of the tests that compare taskstate with Apache Airflow 3.3.2.

``airflow_installation`` builds (once per machine, see ``taskstate.testing.airflow``) or finds
the Airflow virtualenv; when it cannot be installed the tests are skipped, or fail under
``CI=true``. ``airflow_results`` computes Airflow's runs and keeps them in
``${TASKSTATE_TEST_CACHE:-~/.cache/taskstate-tests}/results-airflow-3.3.2/``, one JSON file per
case, keyed by a hash of everything the result depends on (see ``harness.py``); removing that
directory makes the next session run Airflow again.

These tests wait for Airflow in their fixtures, which build a virtualenv the first time and
run ``airflow dags test`` (10-30 s a file, in the background); the modules mark them
``timeout(60, func_only=True)`` so that the limit bounds the taskstate side, and every Airflow
process has a bound of its own.

On the ``--database=postgres`` pass the tests marked ``airflow`` are deselected: what a DAG
file does does not depend on the database under the API server, the SQLite pass has compared
it already, and CI's budget is better spent elsewhere.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.conftest import HomeDatabases
from tests.e2e.conftest import Cli

from taskstate.testing.airflow import (
    AIRFLOW_VERSION,
    AirflowInstallation,
    cache_root,
    install_airflow,
)

from .harness import AirflowResults


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--database") != "postgres":
        return
    # A conftest hook sees every item of the session: only the ``airflow`` ones are dropped.
    dropped = [item for item in items if item.get_closest_marker("airflow") is not None]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if item.get_closest_marker("airflow") is None]


@pytest.fixture(scope="session")
def airflow_installation() -> AirflowInstallation:
    return install_airflow()


@pytest.fixture(scope="session")
def airflow_results(
    airflow_installation: AirflowInstallation, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AirflowResults]:
    results = AirflowResults(
        airflow_installation,
        store=cache_root() / f"results-airflow-{AIRFLOW_VERSION}",
        workdir=tmp_path_factory.mktemp("airflow-homes"),
    )
    try:
        yield results
    finally:
        results.close()


def selected(request: pytest.FixtureRequest, argname: str) -> list[Any]:
    """The values of the parameter ``argname`` that the selected tests of the requesting
    module take, in order: what to start computing in the background."""
    found: list[Any] = []
    for item in request.session.items:
        callspec = getattr(item, "callspec", None)
        if item.module is request.module and callspec is not None and argname in callspec.params:
            value = callspec.params[argname]
            if value not in found:
                found.append(value)
    return found


@pytest.fixture
def ts_cli(tmp_path: Path, home_databases: HomeDatabases) -> Cli:
    """``taskstate`` over a fresh home in ``tmp_path``."""
    home = tmp_path / "home"
    return Cli(home, home_databases.env(home))
