"""Compare the structure of an Airflow DAG file under Apache Airflow and under taskstate.

Run by hand, not by the test suite (it needs an Airflow installation)::

    python tests/sdk/structure_dump.py compare AIRFLOW_PYTHON FILE...

prints, for each DAG file, the differences between the DAGs Airflow builds from it (task ids,
upstream task ids, trigger rules, setup/teardown roles, retries, mapping, task groups) and those
taskstate builds from the same file with its ``from airflow... import X`` lines rewritten to
``from taskstate.sdk import X``. ``dump airflow FILE`` and ``dump taskstate FILE`` print one
side as JSON.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

_IMPORT = re.compile(r"^(\s*)from airflow[\w.]* import (\([^)]*\)|[^\n]*)", re.MULTILINE)


_OURS = re.compile(r"^(\s*)from taskstate\.sdk import (\([^)]*\)|[^\n]*)", re.MULTILINE)
_AIRFLOW_MODULES = {
    "EmptyOperator": "airflow.providers.standard.operators.empty",
    "BashOperator": "airflow.providers.standard.operators.bash",
    "PythonOperator": "airflow.providers.standard.operators.python",
    "BranchPythonOperator": "airflow.providers.standard.operators.python",
    "ShortCircuitOperator": "airflow.providers.standard.operators.python",
    "BaseBranchOperator": "airflow.providers.standard.operators.branch",
    "AirflowException": "airflow.sdk.exceptions",
    "AirflowFailException": "airflow.sdk.exceptions",
    "AirflowSkipException": "airflow.sdk.exceptions",
    "AirflowTaskTimeout": "airflow.sdk.exceptions",
}


def convert(source: str) -> str:
    """``source`` with every ``from airflow... import X`` made ``from taskstate.sdk import X``."""
    return _IMPORT.sub(lambda m: f"{m.group(1)}from taskstate.sdk import {m.group(2)}", source)


def to_airflow(source: str) -> str:
    """The reverse: ``from taskstate.sdk import X`` made an import from X's Airflow module."""

    def imports(match: re.Match[str]) -> str:
        names = [n.strip() for n in match.group(2).strip("()").split(",") if n.strip()]
        return "\n".join(
            f"{match.group(1)}from {_AIRFLOW_MODULES.get(n, 'airflow.sdk')} import {n}"
            for n in names
        )

    return _OURS.sub(imports, source)


def _task(task: Any, mapped: bool) -> dict[str, Any]:
    timeout = task.execution_timeout
    return {
        "upstream": sorted(task.upstream_task_ids),
        "trigger_rule": str(getattr(task.trigger_rule, "value", task.trigger_rule)),
        "is_setup": bool(task.is_setup),
        "is_teardown": bool(task.is_teardown),
        "retries": task.retries,
        "mapped": mapped,
        "execution_timeout": None if timeout is None else timeout.total_seconds(),
        "multiple_outputs": bool(getattr(task, "multiple_outputs", False)),
        "on_failure_fail_dagrun": bool(getattr(task, "on_failure_fail_dagrun", False)),
    }


def dump_airflow(path: str) -> dict[str, Any]:
    from airflow.dag_processing.dagbag import DagBag  # type: ignore[import-not-found]

    source = Path(path).read_text()
    if "from taskstate.sdk import" in source:
        folder = tempfile.mkdtemp()
        path = str(Path(folder) / Path(path).name)
        Path(path).write_text(to_airflow(source))
    bag = DagBag(dag_folder=path)
    out: dict[str, Any] = {"errors": sorted(str(e)[:300] for e in bag.import_errors.values())}
    for dag_id, dag in sorted(bag.dags.items()):
        tasks = {}
        for task in dag.tasks:
            in_mapped_group = task.get_closest_mapped_task_group() is not None
            mapped = type(task).__name__.endswith("MappedOperator") or in_mapped_group
            tasks[task.task_id] = _task(task, mapped)
        groups = sorted(g for g in dag.task_group.get_task_group_dict() if g)
        out[dag_id] = {"tasks": tasks, "groups": groups, "params": sorted(dag.params)}
    return out


def dump_taskstate(path: str) -> dict[str, Any]:
    from taskstate.errors import TaskStateError
    from taskstate.sdk.loader import load_dag_file

    with tempfile.TemporaryDirectory() as folder:
        converted = Path(folder) / Path(path).name
        converted.write_text(convert(Path(path).read_text()))
        try:
            dags = load_dag_file(converted)
        except TaskStateError as exc:
            return {"errors": [f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}"]}
    out: dict[str, Any] = {"errors": []}
    for dag_id, dag in sorted(dags.items()):
        tasks = {t.task_id: _task(t, t.is_mapped) for t in dag.tasks.values()}
        groups = sorted(dag.task_group_dict)
        out[dag_id] = {"tasks": tasks, "groups": groups, "params": sorted(dag.params)}
    return out


def _diff(left: Any, right: Any, where: str) -> list[str]:
    if isinstance(left, dict) and isinstance(right, dict):
        lines = []
        for key in sorted(set(left) | set(right)):
            if key not in left:
                lines.append(f"{where}/{key}: only in taskstate")
            elif key not in right:
                lines.append(f"{where}/{key}: only in airflow")
            else:
                lines.extend(_diff(left[key], right[key], f"{where}/{key}"))
        return lines
    return [] if left == right else [f"{where}: airflow {left!r} != taskstate {right!r}"]


def compare(airflow_python: str, files: list[str]) -> int:
    differing = 0
    for path in files:
        sides = []
        for interpreter, side in ((airflow_python, "airflow"), (sys.executable, "taskstate")):
            proc = subprocess.run(
                [interpreter, __file__, "dump", side, path],
                capture_output=True,
                text=True,
                check=False,
            )
            if proc.returncode != 0:
                sides.append({"errors": [proc.stderr.strip().splitlines()[-1:]]})
            else:
                sides.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        lines = _diff(sides[0], sides[1], Path(path).name)
        differing += bool(lines)
        print(f"== {path}: {'same' if not lines else f'{len(lines)} differences'}")
        for line in lines:
            print("   ", line)
    return differing


def main(argv: list[str]) -> int:
    if argv[:1] == ["dump"] and len(argv) == 3:
        dump = dump_airflow if argv[1] == "airflow" else dump_taskstate
        print(json.dumps(dump(argv[2]), sort_keys=True))
        return 0
    if argv[:1] == ["compare"] and len(argv) >= 3:
        return 1 if compare(argv[1], argv[2:]) else 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
