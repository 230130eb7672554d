"""The ``taskstate`` command.

Commands that need the API server use the one at ``--api-url`` (with the key of
``--api-key-file`` or ``TASKSTATE_API_KEY``, or the configured or local key); without it they
start an embedded server on a free loopback port, over the database of ``$TASKSTATE_HOME``,
for the duration of the command. Heavy modules are imported inside the commands, so
``taskstate --help`` stays quick.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from taskstate import __version__
from taskstate.cli import asset_commands, run_commands, state_commands, task_commands
from taskstate.cli.common import (
    ApiKey,
    ApiUrl,
    api_client,
    check_worker_backend,
    command_group,
    err,
    fail,
    parse_conf,
    parse_logical_date,
    refuse_api_key_option,
    settings,
    stdout,
    stop_on_signals,
    worker_backend_spec,
)
from taskstate.errors import TaskStateError, UsageError

__all__ = ["app", "main"]

app = command_group(
    name="taskstate",
    help="Durable, scoped key/value state for workflow tasks.",
    pretty_exceptions_enable=False,
    add_completion=False,
)
dags_app = command_group(help="Run DAG files.")
db_app = command_group(help="The metadata database.")
config_app = command_group(help="The effective settings.")
app.add_typer(dags_app, name="dags")
app.add_typer(db_app, name="db")
app.add_typer(config_app, name="config")
app.add_typer(state_commands.app, name="state")
app.add_typer(run_commands.app, name="runs")
app.add_typer(task_commands.app, name="tasks")
app.add_typer(asset_commands.app, name="assets")


@app.command()
def version() -> None:
    """Print the version of taskstate."""
    print(f"taskstate {__version__}")


@dags_app.command("test")
def dags_test(
    path: Annotated[Path, typer.Argument(help="The DAG file.")],
    logical_date: Annotated[
        str | None,
        typer.Argument(
            help="The run's logical date: a date or datetime (2026-03-01, "
            "2026-03-01T06:00:00+02:00); naive is UTC. Default: now.",
            show_default=False,
        ),
    ] = None,
    conf: Annotated[
        str | None,
        typer.Option(
            "--conf", "-c", help="The run's conf, a JSON object; it overrides the DAG's params."
        ),
    ] = None,
    dag_id: Annotated[
        str | None, typer.Option("--dag-id", help="The DAG to run, if the file has several.")
    ] = None,
    run_id: Annotated[
        str | None, typer.Option("--run-id", help="Id of the new run (default: manual__<now>).")
    ] = None,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume",
            help="Continue the unfinished or failed run --run-id: its succeeded task instances "
            "are kept, the others run as their next try, with their task state.",
        ),
    ] = False,
    parallelism: Annotated[
        int | None,
        typer.Option(
            "--parallelism", min=1, help="Task instances at once ([workers] parallelism)."
        ),
    ] = None,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Run one DAG run of PATH, each task in its own supervised process, and report it.

    As with "airflow dags test": the run is dated LOGICAL_DATE (now by default), its data
    interval is the one Airflow infers for a manual run, and --conf overrides the DAG's
    params, each checked against its schema before any task runs.

    SIGINT (Ctrl-C) or SIGTERM stops the tasks (SIGTERM, then SIGKILL after a grace), records
    their tries and the run as failed ("interrupted"), prints the summary and exits 130 or 143;
    --resume continues the run later.
    """
    from taskstate.runner import DagRunner, default_run_id
    from taskstate.runner.output import RunOutput
    from taskstate.sdk.loader import load_dag

    try:
        when = parse_logical_date(logical_date) if logical_date else datetime.now(UTC)
        run_conf = parse_conf(conf) if conf is not None else None
        config = settings()
        dag = load_dag(path, dag_id)
        workers = config.workers
        backend = worker_backend_spec(workers)
        check_worker_backend(backend)
        if resume and not run_id:
            raise UsageError("--resume continues an existing run: name it with --run-id")
        output = RunOutput()
        with api_client(config, api_url, api_key) as (url, client):
            runner = DagRunner(
                dag,
                str(path.resolve()),
                client=client,
                api_url=url,
                run_id=run_id or default_run_id(),
                parallelism=parallelism or workers.parallelism,
                max_map_length=workers.max_map_length,
                heartbeat_interval=workers.heartbeat_interval,
                worker_backend=backend,
                output=output,
                logical_date=when,
                conf=run_conf,
                log_folder=config.logs_folder,
                log_level=config.logging.level,
                run_as_user=workers.run_as_user,
                client_retry_seconds=config.api.client_retry_seconds,
                resume=resume,
                encryption_keys=[(k.id, k.secret) for k in workers.encryption_key_list()],
            )
            with stop_on_signals(runner.interrupt):
                result = runner.run()
    except TaskStateError as exc:
        fail(exc)
    output.summary(result.dag_id, result.run_id, result.state, result.task_instances)
    stopped_by = runner.groups.reason
    if stopped_by is not None:
        err.print(f"interrupted by {stopped_by}; continue with --run-id {result.run_id} --resume")
        raise typer.Exit(128 + signal.Signals[stopped_by])
    raise typer.Exit(0 if result.succeeded else 1)


# Paragraphs without line breaks: typer's rich help keeps them, where a docstring has them.
_API_SERVER_HELP = (
    "Run the API server in the foreground, until SIGINT (Ctrl-C) or SIGTERM.\n\n"
    "The database schema is migrated and the generated keys are created before serving. "
    "With several workers, this process binds the port and supervises them (a worker that "
    "dies is replaced), and every log line starts with the pid of the process that wrote it. "
    "On SIGINT or SIGTERM, requests in flight get up to 30 s to finish."
)


@app.command("api-server", help=_API_SERVER_HELP)
def api_server(
    host: Annotated[str | None, typer.Option(help="Address to bind ([api] host).")] = None,
    port: Annotated[
        int | None,
        typer.Option(
            min=0, max=65535, help="Port to bind ([api] port), 0 to 65535; 0 picks a free one."
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            min=1,
            help="Server processes sharing the port ([api] workers); more than one needs "
            "PostgreSQL.",
        ),
    ] = None,
    access_log: Annotated[
        bool, typer.Option("--access-log", help="Log every request (costs ~0.1 ms each).")
    ] = False,
) -> None:
    """Run the API server in the foreground (see ``_API_SERVER_HELP``)."""
    from taskstate.api.server import serve

    try:
        serve(settings(), host=host, port=port, workers=workers, access_log=access_log)
    except TaskStateError as exc:
        fail(exc)


@db_app.command("migrate")
def db_migrate() -> None:
    """Create the metadata database's schema, or bring it to the latest revision."""
    from taskstate.db.engine import mask_url
    from taskstate.db.migration import migrate

    try:
        config = settings()
        before, after = migrate(config.database.url)
    except TaskStateError as exc:
        fail(exc)
    where = mask_url(config.database.url)
    if before == after:
        print(f"{where} is at revision {after}; nothing to do")
    else:
        print(f"{where} migrated from {before or 'empty'} to {after}")


@config_app.command("show")
def config_show() -> None:
    """Print every setting, its effective value and where it came from."""
    from rich.table import Table

    from taskstate.config import format_settings

    try:
        config = settings()
    except TaskStateError as exc:
        fail(exc)
    source = str(config.config_file) if config.config_file else "none found"
    table = Table(title=f"taskstate settings (file: {source})", title_justify="left")
    for column in ("setting", "value", "source"):
        table.add_column(column)
    for name, value, origin in format_settings(config):
        table.add_row(name, value, origin)
    stdout().print(table)


def main() -> None:
    code: object = 0
    try:
        refuse_api_key_option(sys.argv[1:])
        app()
    except typer.Exit as exc:
        code = exc.exit_code
    except SystemExit as exc:
        code = exc.code
    except KeyboardInterrupt:
        err.print("interrupted")
        code = 130
    # Everything the command opened is closed by now; skip the interpreter's teardown of the
    # web and database stacks, which costs ~0.2 s in C finalizers and changes nothing.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    if code is None:
        code = 0
    elif not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    os._exit(code)
