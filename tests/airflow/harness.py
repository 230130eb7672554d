"""One DAG file under both runners, and what differs.

A :class:`Case` is an Airflow 3 DAG file and the runs to make of it. Airflow's side
(:class:`AirflowResults`) runs it with ``airflow dags test`` in a home of its own, in a thread
pool so that the Airflow runs of a module overlap with each other and with the taskstate
runs, and keeps each result on disk keyed by everything it depends on (the files, the runs,
the Airflow version, the read-back script): Airflow's answer for a file never changes, so it
is computed once per machine, not once per session. taskstate's side (:func:`run_taskstate`)
converts the file's import lines, runs ``taskstate dags test`` as a user would, and reads
every task instance back through the public API. :func:`differences` lists what differs.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tests.e2e.conftest import Cli, Result

from taskstate.testing.airflow import (
    AIRFLOW_VERSION,
    AirflowInstallation,
    DagRunResult,
    RunSpec,
    TaskInstanceResult,
    convert_file,
    instance_label,
    run_airflow,
)
from taskstate.testing.airflow._run import READBACK_SCRIPT

DAGS_TEST_SECONDS = 150.0
"""Bounds one ``taskstate dags test`` of a case: the trigger-rule matrix runs 82 task instances,
about 15 s alone, and several times that on a loaded 2-core machine."""

HERE = Path(__file__).resolve().parent
OWN_DAGS = HERE / "dags"


@dataclass(frozen=True)
class Case:
    """A DAG file, the runs to make of it in one home, the files it reads (copied beside
    it), and the tasks whose output is random or depends on the time, so is compared by
    shape only (task id -> why)."""

    name: str
    path: Path
    runs: tuple[RunSpec, ...]
    files: tuple[Path, ...] = ()
    loose: Mapping[str, str] = field(default_factory=dict)

    def key(self) -> str:
        """What Airflow's result depends on, hashed."""
        digest = hashlib.sha256()
        digest.update(AIRFLOW_VERSION.encode())
        digest.update(READBACK_SCRIPT.read_bytes())
        for path in (self.path, *self.files):
            for file in sorted(path.rglob("*")) if path.is_dir() else [path]:
                if file.is_file() and "__pycache__" not in file.parts:
                    digest.update(file.name.encode() + b"\0" + file.read_bytes())
        for spec in self.runs:
            digest.update(json.dumps([spec.dag_id, spec.logical_date, spec.conf]).encode())
        return digest.hexdigest()[:32]


def case(
    path: Path,
    *dag_ids: str,
    name: str | None = None,
    runs: Sequence[RunSpec] = (),
    files: Sequence[Path] = (),
    loose: Mapping[str, str] | None = None,
) -> Case:
    """A :class:`Case` of ``path``: one run of each of ``dag_ids`` (default: the file's stem),
    then ``runs``."""
    specs = [RunSpec(dag_id) for dag_id in dag_ids] + list(runs)
    if not specs:
        specs = [RunSpec(path.stem)]
    return Case(name or path.stem, path, tuple(specs), tuple(files), dict(loose or {}))


@dataclass(frozen=True)
class Instead:
    """Where taskstate must not do what Airflow 3.3.2 does: Airflow's run of ``dag_id`` ends
    as ``airflow`` says (checked, so that the entry cannot outlive the reason), taskstate's as
    ``taskstate`` says. Each is a run state and the task instances that differ."""

    reason: str
    dag_id: str
    airflow: tuple[str, Mapping[str, TaskInstanceResult]]
    taskstate: tuple[str, Mapping[str, TaskInstanceResult]]

    def apply(self, runs: Sequence[DagRunResult]) -> list[DagRunResult]:
        """``runs`` (Airflow's) with this entry's runs as taskstate must end them."""
        adjusted = []
        for run in runs:
            if run.dag_id == self.dag_id:
                state, instances = self.airflow
                seen = {label: run.task_instances.get(label) for label in instances}
                if (run.state, seen) != (state, instances):
                    raise AssertionError(
                        f"Airflow's run of {self.dag_id} no longer ends as recorded "
                        f"({run.state}, {seen}); is this still true? {self.reason}"
                    )
                state, instances = self.taskstate
                run = replace(run, state=state, task_instances={**run.task_instances, **instances})
            adjusted.append(run)
        return adjusted


# -- Airflow's side ----------------------------------------------------------------------------


def _parallel_runs() -> int:
    """Airflow runs at once in this process: the machine's cores shared by xdist's workers,
    plus one, since a run spends part of its time waiting (retry delays, its poll loop)."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    return max(1, (os.cpu_count() or 1) // workers) + 1


class AirflowResults:
    """Airflow's runs of cases, computed in the background and kept in ``store``."""

    def __init__(self, installation: AirflowInstallation, store: Path, workdir: Path) -> None:
        self.installation = installation
        self.store = store
        self.workdir = workdir
        self._pool = ThreadPoolExecutor(_parallel_runs(), thread_name_prefix="airflow")
        self._futures: dict[str, Future[list[DagRunResult]]] = {}
        self._lock = threading.Lock()
        store.mkdir(parents=True, exist_ok=True)

    def prefetch(self, cases: Iterable[Case]) -> None:
        """Start Airflow's runs of ``cases`` (those not stored yet) in the background."""
        for item in cases:
            self._future(item)

    def get(self, item: Case) -> list[DagRunResult]:
        """Airflow's runs of ``item``, waiting for them if they are still running."""
        return self._future(item).result()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def _future(self, item: Case) -> Future[list[DagRunResult]]:
        with self._lock:
            key = item.key()
            if key not in self._futures:
                self._futures[key] = self._pool.submit(self._compute, item, key)
            return self._futures[key]

    def _compute(self, item: Case, key: str) -> list[DagRunResult]:
        stored = self.store / f"{key}.json"
        if stored.exists():
            return [DagRunResult.from_json(run) for run in json.loads(stored.read_text())]
        workdir = self.workdir / f"{item.name}-{key[:8]}"
        workdir.mkdir(parents=True)
        runs = run_airflow(
            self.installation, item.path, item.runs, files=item.files, workdir=workdir
        )
        partial = stored.with_suffix(f".{os.getpid()}.tmp")
        partial.write_text(json.dumps([run.to_json() for run in runs], indent=1))
        os.replace(partial, stored)  # never a half-written result
        return runs


# -- taskstate's side --------------------------------------------------------------------------


@dataclass
class TaskstateRuns:
    """taskstate's runs of a case, and the commands that made them (for failure messages)."""

    runs: list[DagRunResult]
    commands: list[Result]

    def transcript(self) -> str:
        return "\n".join(str(command) for command in self.commands)


def _dags_test_args(dag_file: Path, spec: RunSpec) -> list[str]:
    args = [str(dag_file), "--dag-id", spec.dag_id]
    if spec.logical_date is not None:
        args.append(spec.logical_date)
    if spec.conf is not None:
        args += ["--conf", json.dumps(spec.conf)]
    return args


def _read_run(public: Any, dag_id: str, run_id: str) -> DagRunResult:
    body = public.get_run(dag_id, run_id)
    outputs: dict[str, Any] = {}
    instances: dict[str, TaskInstanceResult] = {}
    for ti in sorted(body["task_instances"], key=lambda ti: (ti["task_id"], ti["map_index"])):
        task_id, map_index = ti["task_id"], ti["map_index"]
        if task_id not in outputs:
            outputs[task_id] = public.get_task_output(dag_id, run_id, task_id)
        output = outputs[task_id]
        if map_index >= 0:  # a mapped task's output is the list of its instances' outputs
            output = output[map_index] if isinstance(output, list) else None
        instances[instance_label(task_id, map_index)] = TaskInstanceResult(
            ti["state"], ti["try_number"], output
        )
    return DagRunResult(dag_id, run_id, body["state"], instances)


def run_taskstate(cli: Cli, item: Case, workdir: Path) -> TaskstateRuns:
    """Convert ``item``'s file, run each of its runs with ``taskstate dags test`` in ``cli``'s
    home, and read back every run through the public API."""
    dags = workdir / "dags"
    dag_file = convert_file(item.path, dags / item.path.name)
    for extra in item.files:
        copy = shutil.copytree if extra.is_dir() else shutil.copy2
        copy(extra, dags / extra.name)
    commands = [
        cli.dags_test(*_dags_test_args(dag_file, spec), timeout=DAGS_TEST_SECONDS)
        for spec in item.runs
    ]
    listed = cli.run("runs", "list", "--json")
    commands.append(listed)
    made = listed.json() if listed.code == 0 else []
    found = TaskstateRuns([], commands)
    if [run["dag_id"] for run in made] != [spec.dag_id for spec in item.runs]:
        return found  # a run was not even created: differences() reports it
    with cli.api() as public:
        found.runs = [_read_run(public, run["dag_id"], run["run_id"]) for run in made]
    return found


# -- comparing ----------------------------------------------------------------------------------


def shape(value: Any) -> Any:
    """The JSON shape of ``value``: its types, keys and lengths, not its scalars."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in sorted(value.items())}
    if isinstance(value, list):
        return [shape(item) for item in value]
    return type(value).__name__


def _task_id(label: str) -> str:
    return label.split("[", 1)[0]


def differences(
    item: Case, airflow: Sequence[DagRunResult], taskstate: Sequence[DagRunResult]
) -> list[str]:
    """Every difference between Airflow's and taskstate's runs of ``item``, one per line;
    empty when taskstate did what Airflow did."""
    if len(taskstate) != len(airflow):
        return [f"taskstate made {len(taskstate)} run(s), Airflow {len(airflow)}"]
    found: list[str] = []
    for ours, theirs in zip(taskstate, airflow, strict=True):
        where = theirs.dag_id
        if ours.state != theirs.state:
            found.append(f"{where}: run {ours.state!r}, Airflow {theirs.state!r}")
        for label in sorted(theirs.task_instances.keys() - ours.task_instances.keys()):
            found.append(f"{where}.{label}: missing (Airflow: {theirs.task_instances[label]})")
        for label in sorted(ours.task_instances.keys() - theirs.task_instances.keys()):
            found.append(f"{where}.{label}: not in Airflow's run ({ours.task_instances[label]})")
        for label in sorted(ours.task_instances.keys() & theirs.task_instances.keys()):
            mine, expected = ours.task_instances[label], theirs.task_instances[label]
            if (mine.state, mine.tries) != (expected.state, expected.tries):
                found.append(
                    f"{where}.{label}: {mine.state} after {mine.tries} tries, Airflow "
                    f"{expected.state} after {expected.tries}"
                )
            compare = shape if _task_id(label) in item.loose else (lambda value: value)
            if compare(mine.output) != compare(expected.output):
                found.append(
                    f"{where}.{label}: output {mine.output!r}, Airflow {expected.output!r}"
                )
    return found


def describe(runs: Sequence[DagRunResult]) -> str:
    """Runs as a table, for reports: ``dag_id.label  state  tries  output``."""
    lines = []
    for run in runs:
        lines.append(f"{run.dag_id}: {run.state}")
        for label, ti in run.task_instances.items():
            lines.append(f"  {label:40} {ti.state!s:16} {ti.tries}  {json.dumps(ti.output)}")
    return "\n".join(lines)
