"""Running a DAG file under Apache Airflow's ``airflow dags test``, and what came of it.

Each DAG file gets an Airflow home of its own: a temporary directory whose dags folder holds
only that file (and the files it reads, such as templates), and whose metadata database is a
copy of the installation's migrated template. The runs are ``python -m airflow dags test
DAG_ID [LOGICAL_DATE] [-c CONF]``, one after the other in that home (a later run sees the
asset events of an earlier one). Then ``readback.py``, run by the Airflow interpreter, reads
every run, task instance, try number and ``return_value`` XCom from the database as JSON.

How ``airflow dags test`` behaves (Airflow 3.3.2, ``DAG.test``), which shapes the DAG files:

* It is one process: tasks run one at a time, in that process (``run_task_in_process``),
  against an in-process execution API; there is no scheduler and no executor. Starting it
  costs 3-4 s of imports, and the first task another 4-5 s (the in-process API server): a
  run of a few tasks takes some 12 s and 9 s of CPU here, and reading it back 2-3 s more.
* Retries are real and do wait: a failed try leaves the instance ``up_for_retry``, and the
  loop polls every second until ``next_retry_datetime()`` has passed, so a retry starts
  ``retry_delay`` after the failure, rounded up to the next poll. Keep ``retry_delay`` at a
  second or less in test DAGs. With ``retry_exponential_backoff`` (a multiplier in 3.3.2;
  ``True`` reads as 2.0) the delay of try ``n`` is between ``ceil(delay * m**(n-1))`` and twice
  that, and never under 1 s; ``max_retry_delay`` caps it.
* ``execution_timeout`` is enforced in the task's process: a try that runs over fails
  (``AirflowTaskTimeout``) and its retries apply, as under a scheduler.
* A task's ``try_number`` counts the tries that started: 0 for an instance that never ran
  (skipped by a branch or short-circuit, ``upstream_failed``), 1 for one that raised
  ``AirflowSkipException`` on its first try.
* The command exits 1 ("DagRun failed") when the run fails and 0 when it succeeds; a DAG that
  does not import exits 1 with no run in the database.
* Without a logical date the run's logical date is the current time; runs of one DAG in the
  same home need distinct logical dates, since each ``dags test`` first clears the task
  instances of its logical date.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from taskstate.testing.airflow._install import AirflowInstallation, airflow_env

__all__ = [
    "AirflowRunError",
    "DagRunResult",
    "RunSpec",
    "TaskInstanceResult",
    "instance_label",
    "run_airflow",
]

READBACK_SCRIPT = Path(__file__).with_name("readback.py")

# Bounds that only end a hang: a run of a few tasks takes 10-20 s.
DAGS_TEST_TIMEOUT_SECONDS = 300.0
READBACK_TIMEOUT_SECONDS = 120.0


@dataclass(frozen=True)
class RunSpec:
    """One ``dags test`` run: the DAG, its logical date (None: now) and its conf."""

    dag_id: str
    logical_date: str | None = None
    conf: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class TaskInstanceResult:
    """How one task instance ended: its state, its number of tries, its return value."""

    state: str | None
    tries: int
    output: Any = None


@dataclass(frozen=True)
class DagRunResult:
    """How one DAG run ended, with its task instances by label (see :func:`instance_label`)."""

    dag_id: str
    run_id: str
    state: str | None
    task_instances: dict[str, TaskInstanceResult] = field(default_factory=dict)
    log: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "dag_id": self.dag_id,
            "run_id": self.run_id,
            "state": self.state,
            "task_instances": {
                label: {"state": ti.state, "tries": ti.tries, "output": ti.output}
                for label, ti in self.task_instances.items()
            },
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], log: str = "") -> DagRunResult:
        return cls(
            data["dag_id"],
            data["run_id"],
            data["state"],
            {
                label: TaskInstanceResult(ti["state"], ti["tries"], ti["output"])
                for label, ti in data["task_instances"].items()
            },
            log,
        )


def instance_label(task_id: str, map_index: int) -> str:
    """``task`` for an unmapped instance, ``task[i]`` for a mapped one (as the summary table
    of ``taskstate dags test`` shows them)."""
    return task_id if map_index < 0 else f"{task_id}[{map_index}]"


class AirflowRunError(Exception):
    """``airflow dags test`` left no run behind (the DAG did not import, or Airflow broke)."""


def _dags_test_argv(installation: AirflowInstallation, spec: RunSpec) -> list[str]:
    argv = [str(installation.python), "-m", "airflow", "dags", "test", spec.dag_id]
    if spec.logical_date is not None:
        argv.append(spec.logical_date)
    if spec.conf is not None:
        argv += ["-c", json.dumps(spec.conf)]
    return argv


def _check_specs(runs: Sequence[RunSpec]) -> None:
    dated = [(spec.dag_id, spec.logical_date) for spec in runs if spec.logical_date is not None]
    if len(set(dated)) != len(dated):
        raise ValueError(f"runs of one DAG in one home need distinct logical dates: {dated}")


def run_airflow(
    installation: AirflowInstallation,
    dag_file: Path,
    runs: Sequence[RunSpec],
    *,
    files: Sequence[Path] = (),
    workdir: Path | None = None,
) -> list[DagRunResult]:
    """Run ``dag_file`` under Airflow: each of ``runs`` in order, in one fresh Airflow home
    whose dags folder holds the file and ``files`` (files or directories it reads); the
    result of each run, in the same order.

    The home is made in ``workdir`` (kept, for its logs) or in a temporary directory (removed).
    Raises :class:`AirflowRunError` when a run left nothing behind.
    """
    _check_specs(runs)
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="airflow-home-") as temporary:
            return run_airflow(installation, dag_file, runs, files=files, workdir=Path(temporary))
    home = workdir / "airflow-home"
    dags = home / "dags"
    dags.mkdir(parents=True)
    shutil.copy2(dag_file, dags / dag_file.name)
    for extra in files:
        copy = shutil.copytree if extra.is_dir() else shutil.copy2
        copy(extra, dags / extra.name)
    shutil.copy2(installation.template_db, home / "airflow.db")
    env = airflow_env(home)
    logs: list[str] = []
    for spec in runs:
        done = subprocess.run(
            _dags_test_argv(installation, spec),
            capture_output=True,
            text=True,
            env=env,
            cwd=home,
            timeout=DAGS_TEST_TIMEOUT_SECONDS,
            check=False,
        )
        log = f"$ airflow dags test {spec.dag_id} (exit {done.returncode})\n"
        log += done.stdout + done.stderr
        (workdir / f"dags-test-{len(logs)}-{spec.dag_id}.log").write_text(log)
        logs.append(log)
    readback = subprocess.run(
        [str(installation.python), str(READBACK_SCRIPT)],
        capture_output=True,
        text=True,
        env=env,
        cwd=home,
        timeout=READBACK_TIMEOUT_SECONDS,
        check=False,
    )
    if readback.returncode != 0:
        raise AirflowRunError(f"reading back {home} failed:\n{readback.stderr}")
    found = json.loads(readback.stdout)
    if len(found) != len(runs) or any(
        run["dag_id"] != spec.dag_id for run, spec in zip(found, runs, strict=False)
    ):
        raise AirflowRunError(
            f"expected runs of {[spec.dag_id for spec in runs]} in {home}, found "
            f"{[run['dag_id'] for run in found]}:\n" + "\n".join(logs)
        )
    return [
        DagRunResult(
            run["dag_id"],
            run["run_id"],
            run["state"],
            {
                instance_label(ti["task_id"], ti["map_index"]): TaskInstanceResult(
                    ti["state"], ti["try_number"], ti["output"]
                )
                for ti in run["task_instances"]
            },
            log,
        )
        for run, log in zip(found, logs, strict=True)
    ]
