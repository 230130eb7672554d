"""What the CLI's commands share: settings, the API client, error output."""

from __future__ import annotations

import json
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from pydantic import TypeAdapter, ValidationError
from rich.console import Console
from rich.text import Text

from taskstate.errors import BackendImportError, ConfigError, TaskStateError, UsageError

if TYPE_CHECKING:
    from taskstate.client.public import PublicClient
    from taskstate.config import Settings, WorkersSettings
    from taskstate.contracts.types import WorkerBackendSpec

__all__ = [
    "ApiKey",
    "ApiUrl",
    "api_client",
    "check_worker_backend",
    "command_group",
    "err",
    "fail",
    "parse_conf",
    "parse_duration",
    "parse_logical_date",
    "plural",
    "print_json",
    "refuse_api_key_option",
    "settings",
    "stdout",
    "stop_on_signals",
    "worker_backend_spec",
]

# soft_wrap: a message stays on one line (rich would break it at 80 columns when stderr is not a
# terminal, splitting paths and setting names that scripts and people search for).
err = Console(stderr=True, highlight=False, soft_wrap=True)


def command_group(**options: Any) -> typer.Typer:
    """A group of commands, its help shown by rich as plain text.

    Help texts name settings as ``[section] key``; rich markup would take ``[api]`` for a style
    and drop it.
    """
    return typer.Typer(no_args_is_help=True, rich_markup_mode=None, **options)


def parse_duration(text: str, option: str) -> timedelta:
    """The duration given to ``option``: seconds, HH:MM:SS or ISO 8601; UsageError if not."""
    raw: str | float = text.strip()
    with suppress(ValueError):
        raw = float(raw)  # plain seconds, which pydantic's string parsing does not accept
    try:
        value = TypeAdapter(timedelta).validate_python(raw)
    except ValidationError as exc:
        raise UsageError(
            f"{option} takes a duration: seconds (3600), HH:MM:SS or ISO 8601 (PT1H), not {text!r}"
        ) from exc
    if value < timedelta(0):
        raise UsageError(f"{option} cannot be negative, got {text!r}")
    return value


def parse_logical_date(text: str) -> datetime:
    """A logical date as ``airflow dags test`` reads one: an ISO 8601 date or datetime, or a
    looser form its parser (pendulum, then dateutil) understands; naive means UTC."""
    import pendulum  # here: only `dags test` with a date needs it

    try:
        # object: pendulum's stubs claim a Duration cannot be a datetime, but a DateTime is.
        parsed: object = pendulum.parse(text.strip(), tz=UTC, strict=False)
    except (ValueError, OverflowError) as exc:
        raise UsageError(
            f"LOGICAL_DATE takes a date or a datetime, e.g. 2026-03-01 or "
            f"2026-03-01T06:00:00+02:00, not {text!r}"
        ) from exc
    if not isinstance(parsed, datetime):
        kind = type(parsed).__name__.lower()
        raise UsageError(f"LOGICAL_DATE takes a date or a datetime, not a {kind}: {text!r}")
    return parsed


def parse_conf(text: str) -> dict[str, Any]:
    """The run configuration given to ``--conf``: a JSON object."""
    try:
        conf = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"--conf takes a JSON object; {text!r} is not valid JSON: {exc}") from exc
    if not isinstance(conf, dict):
        raise UsageError(
            f"--conf takes a JSON object (e.g. '{{\"x\": 2}}'), not {type(conf).__name__} {text!r}"
        )
    return conf


# Wide enough that a table printed to a pipe or a file is never cut to 80 columns.
_UNBOUNDED_WIDTH = 100_000

ApiUrl = Annotated[
    str | None,
    typer.Option(
        "--api-url",
        help="API server to use (e.g. http://127.0.0.1:8080); default: an embedded one "
        "over $TASKSTATE_HOME.",
        envvar="TASKSTATE_API_URL",
    ),
]
# The API key's source, never the key itself: a command line is readable by every local user
# (/proc/<pid>/cmdline, ps). ``--api-key`` is refused for every command (main.py's ``main``).
ApiKey = Annotated[
    Path | None,
    typer.Option(
        "--api-key-file",
        help="File holding the key for --api-url; default: $TASKSTATE_API_KEY, else "
        "[api] api_keys, else $TASKSTATE_HOME/api_key.",
        envvar="TASKSTATE_API_KEY_FILE",
        dir_okay=False,
    ),
]

API_KEY_OPTION_REFUSED = (
    "--api-key is not accepted: a command line is readable by every user of this machine "
    "(ps, /proc/PID/cmdline). Give the key in a file with --api-key-file PATH (or "
    "TASKSTATE_API_KEY_FILE=PATH), or in the environment variable TASKSTATE_API_KEY"
)


def refuse_api_key_option(args: list[str]) -> None:
    """Exit with an error if ``args`` (a whole command line) gives a key with ``--api-key``."""
    for arg in args:
        if arg == "--":
            return
        if arg == "--api-key" or arg.startswith("--api-key="):
            fail(UsageError(API_KEY_OPTION_REFUSED))


def fail(error: TaskStateError) -> NoReturn:
    """Print ``error`` for a person and exit: 2 for bad input or settings, 1 otherwise."""
    # The message is plain text: "[state_store] backend" must not be read as rich markup.
    err.print(Text.assemble(("error:", "bold red"), " ", error.message))
    raise typer.Exit(2 if isinstance(error, UsageError | ConfigError) else 1)


def stdout() -> Console:
    """A console for tables on stdout: as wide as the terminal, unbounded when piped.

    Markup is off: cells hold user data (keys, values, settings), and a key such as
    ``"[b]"`` must print as itself.
    """
    console = Console(highlight=False, markup=False)
    if not console.is_terminal:
        console = Console(highlight=False, markup=False, width=_UNBOUNDED_WIDTH)
    return console


def plural(count: int, noun: str) -> str:
    """``1 key``, ``2 keys``, ``2 batches``."""
    suffix = "" if count == 1 else ("es" if noun.endswith(("ch", "sh", "s", "x")) else "s")
    return f"{count} {noun}{suffix}"


def print_json(value: Any) -> None:
    """``value`` as indented JSON on stdout, for scripts (``--json``)."""
    print(json.dumps(value, indent=2, ensure_ascii=False))


def worker_backend_spec(workers: WorkersSettings) -> WorkerBackendSpec | None:
    """``[workers] state_backend`` and its kwargs, or None when it is unset."""
    from taskstate.contracts.types import WorkerBackendSpec

    if not workers.state_backend:
        return None
    return WorkerBackendSpec(workers.state_backend, dict(workers.state_backend_kwargs))


def check_worker_backend(spec: WorkerBackendSpec | None) -> None:
    """Build the worker backend once here and close it, so that a bad one (an unknown class,
    an option it does not take, a root it refuses) stops the command before any task starts,
    instead of failing every task. The DAG file's folder must be on the import path already."""
    from taskstate.runtime.worker_backend import SETTING, load_worker_backend

    try:
        worker = load_worker_backend(spec)
    except TaskStateError:
        raise
    except Exception as exc:  # the class's own constructor refused its options
        assert spec is not None
        raise BackendImportError(
            f"{SETTING} = {spec.path!r}: building it failed: {type(exc).__name__}: {exc}",
            detail={"setting": SETTING, "path": spec.path},
        ) from exc
    close = getattr(worker.backend, "close", None) if worker is not None else None
    if callable(close):
        close()


def settings() -> Settings:
    from taskstate.config import load_settings

    return load_settings()


@contextmanager
def api_client(
    config: Settings, api_url: str | None, api_key_file: Path | None
) -> Iterator[tuple[str, PublicClient]]:
    """A client of the API server at ``api_url``, or of an embedded one.

    This process then holds an API key: it makes itself undumpable first, so that no process of
    its user (a task among them) can read the key from its memory. Calls that fail for a
    transient reason are retried for ``[api] client_retry_seconds``.
    """
    import os

    from taskstate.api.keys import client_api_key, in_memory_keys
    from taskstate.client._retry import RetryPolicy
    from taskstate.client.public import PublicClient
    from taskstate.hardening import make_undumpable

    make_undumpable("taskstate command")
    seconds = config.api.client_retry_seconds
    retry = RetryPolicy(seconds) if seconds > 0 else None
    if api_url:
        key = client_api_key(config, api_key_file, environ=os.environ)
        with PublicClient(api_url, key, retry=retry) as client:
            yield api_url, client
        return
    from taskstate.api.server import EmbeddedServer

    config, key = in_memory_keys(config)
    with EmbeddedServer(config) as server, PublicClient(server.url, key, retry=retry) as client:
        yield server.url, client


@contextmanager
def stop_on_signals(stop: Callable[[str], None]) -> Iterator[None]:
    """While the block runs, SIGINT and SIGTERM call ``stop`` with the signal's name
    (``SIGINT``) instead of raising KeyboardInterrupt or ending the process."""

    def handler(signum: int, frame: object) -> None:
        stop(signal.Signals(signum).name)

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
