"""``taskstate tasks ...``: task instances; ``tasks logs`` prints the log of one try."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from taskstate.cli.common import ApiKey, ApiUrl, api_client, command_group, fail, settings
from taskstate.errors import NotFoundError, TaskStateError
from taskstate.state.codec import validate_dag_id, validate_run_id, validate_task_id
from taskstate.supervisor.logfile import logged_tries, task_instance_log_folder

__all__ = ["app"]

app = command_group(help="Task instances.")

# Paragraphs without line breaks: typer's rich help keeps them, where a docstring has them.
_LOGS_HELP = (
    "Print the log of one try of a task instance: the task's print() and logging output, "
    "and the supervisor's and the runner's lines about the try.\n\n"
    "Each try's log is a file on the machine that ran the task, under $TASKSTATE_HOME/logs: "
    "dag_id=D/run_id=R/task_id=T[/map_index=N]/attempt=K.log (ids percent-encoded). This "
    "command reads the file there, so run it on that machine. When there is no file, it asks "
    "the API server (--api-url, or an embedded one) why: no such run or task instance, or no "
    "such try."
)


@app.command("logs", help=_LOGS_HELP)
def logs(
    dag_id: Annotated[str, typer.Option("--dag-id", help="DAG of the task.")],
    run_id: Annotated[str, typer.Option("--run-id", help="DAG run of the task instance.")],
    task_id: Annotated[str, typer.Option("--task-id", help="The task.")],
    map_index: Annotated[
        int | None,
        typer.Option("--map-index", min=0, help="Which instance of a mapped task."),
    ] = None,
    try_number: Annotated[
        int | None,
        typer.Option("--try", min=1, help="Which try, from 1 (default: the latest logged)."),
    ] = None,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Print one try's log (see ``_LOGS_HELP``)."""
    index = -1 if map_index is None else map_index
    try:
        validate_dag_id(dag_id)
        validate_run_id(run_id)
        validate_task_id(task_id)
        config = settings()
        folder = task_instance_log_folder(config.logs_folder, dag_id, run_id, task_id, index)
        tries = logged_tries(folder)
        chosen = try_number if try_number is not None else (tries[-1] if tries else None)
        if chosen is None or chosen not in tries:
            with api_client(config, api_url, api_key) as (_, client):
                run = client.get_run(dag_id, run_id)
            raise _why_no_log(run, task_id, index, chosen, folder)
        path = folder / f"attempt={chosen}.log"
        with path.open("rb") as file:
            shutil.copyfileobj(file, sys.stdout.buffer)
    except TaskStateError as exc:
        fail(exc)
    except OSError as exc:
        fail(NotFoundError(f"cannot read the log file: {exc}"))
    sys.stdout.flush()


def _why_no_log(
    run: dict[str, Any], task_id: str, map_index: int, try_number: int | None, folder: Path
) -> NotFoundError:
    """The error that says why the task instance has no log file (for that try)."""
    where = f"run {run['run_id']!r} of DAG {run['dag_id']!r}"
    instances = [ti for ti in run["task_instances"] if ti["task_id"] == task_id]
    if not instances:
        return NotFoundError(f"{where} has no task {task_id!r}")
    indices = sorted(ti["map_index"] for ti in instances)
    found = [ti for ti in instances if ti["map_index"] == map_index]
    if not found:
        if map_index < 0:
            shown = _ranges(indices)
            return NotFoundError(
                f"task {task_id!r} is mapped: choose an instance with --map-index ({shown})"
            )
        if indices == [-1]:
            return NotFoundError(
                f"task {task_id!r} has no mapped instances in {where} (it is not mapped, or "
                "not expanded yet): leave out --map-index"
            )
        return NotFoundError(
            f"task {task_id!r} has no map index {map_index} in {where} ({_ranges(indices)})"
        )
    ti = found[0]
    label = task_id if map_index < 0 else f"{task_id}[{map_index}]"
    tries = int(ti["try_number"])
    if tries == 0:
        return NotFoundError(f"{label} has not run in {where} (it is {ti['state']}): no log")
    if try_number is not None and try_number > tries:
        return NotFoundError(
            f"{label} has had {tries} {'try' if tries == 1 else 'tries'} in {where}; "
            f"there is no try {try_number}"
        )
    missing = try_number if try_number is not None else tries
    return NotFoundError(
        f"no log file of try {missing} of {label} in {folder}: the logs live on the machine "
        "that ran the task"
    )


def _ranges(indices: list[int]) -> str:
    """``0..4`` for consecutive map indices, else the list."""
    real = [i for i in indices if i >= 0]
    if not real:
        return "none yet"
    if real == list(range(real[0], real[-1] + 1)):
        return f"{real[0]}..{real[-1]}" if len(real) > 1 else str(real[0])
    return ", ".join(map(str, real))


@app.command("clear")
def clear(
    dag_id: Annotated[str, typer.Option("--dag-id", help="DAG of the run.")],
    run_id: Annotated[str, typer.Option("--run-id", help="The run.")],
    task_ids: Annotated[
        list[str] | None,
        typer.Option(
            "--task-id",
            help="Clear every instance of this task (repeatable). Default: every instance "
            "that did not end well.",
        ),
    ] = None,
    keep_state: Annotated[
        bool,
        typer.Option(
            "--keep-state/--discard-state",
            help="Keep the cleared instances' task state for their next try, or clear it.",
        ),
    ] = True,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Schedule task instances of a run again, each for its next try.

    Without --task-id, the instances that failed, were upstream_failed, or were left queued or
    running are cleared; succeeded and skipped ones are kept. "taskstate dags test FILE
    --run-id R --resume" then runs them.
    """
    try:
        with api_client(settings(), api_url, api_key) as (_, client):
            answer = client.clear_run(dag_id, run_id, task_ids, keep_state=keep_state)
    except TaskStateError as exc:
        fail(exc)
    cleared = set(answer["cleared"])
    names = sorted(
        {_label(ti) for ti in answer["task_instances"] if ti["id"] in cleared},
    )
    kept = "kept" if keep_state else "cleared"
    print(
        f"cleared {len(cleared)} task instance(s) of run {run_id!r} of {dag_id!r}"
        + (f": {', '.join(names)}" if names else "")
        + f"; task state {kept}"
    )


def _label(ti: dict[str, Any]) -> str:
    index = ti["map_index"]
    return ti["task_id"] if index < 0 else f"{ti['task_id']}[{index}]"
