"""Apache Airflow as a reference for tests: does a DAG file run the same on taskstate?

* :func:`install_airflow`: Apache Airflow 3.3.2 in a virtualenv of its own, built once per
  machine under ``${TASKSTATE_TEST_CACHE:-~/.cache/taskstate-tests}`` (see ``_install.py``).
* :func:`convert_imports` / :func:`convert_file`: an Airflow 3 DAG file with its import lines
  rewritten to ``taskstate.sdk``, the rule of issue 10.
* :func:`run_airflow`: runs of a DAG file under ``airflow dags test`` in a fresh Airflow home,
  read back as :class:`DagRunResult` (what ``airflow dags test`` does with retries and
  delays is in ``_run.py``).

Airflow is never a dependency of taskstate: these helpers install it into its own virtualenv
and talk to it only through processes. Like the rest of :mod:`taskstate.testing`, they import
pytest, so only tests import them.
"""

from __future__ import annotations

from taskstate.testing.airflow._convert import TARGET_MODULE, convert_file, convert_imports
from taskstate.testing.airflow._install import (
    AIRFLOW_VERSION,
    CACHE_ENV_VAR,
    AirflowInstallation,
    airflow_env,
    cache_root,
    install_airflow,
)
from taskstate.testing.airflow._run import (
    AirflowRunError,
    DagRunResult,
    RunSpec,
    TaskInstanceResult,
    instance_label,
    run_airflow,
)

__all__ = [
    "AIRFLOW_VERSION",
    "CACHE_ENV_VAR",
    "TARGET_MODULE",
    "AirflowInstallation",
    "AirflowRunError",
    "DagRunResult",
    "RunSpec",
    "TaskInstanceResult",
    "airflow_env",
    "cache_root",
    "convert_file",
    "convert_imports",
    "install_airflow",
    "instance_label",
    "run_airflow",
]
