"""What the CLI's commands share: settings, the API client, error output."""

from __future__ import annotations

import json
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from pydantic import TypeAdapter, ValidationError
from rich.console import Console
from rich.text import Text

from taskstate.errors import ConfigError, TaskStateError, UsageError

if TYPE_CHECKING:
    from taskstate.client.public import PublicClient
    from taskstate.config import Settings, WorkersSettings
    from taskstate.runtime.protocol import WorkerBackendSpec

__all__ = [
    "ApiKey",
    "ApiUrl",
    "api_client",
    "command_group",
    "err",
    "fail",
    "parse_conf",
    "parse_duration",
    "parse_logical_date",
    "plural",
    "print_json",
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
ApiKey = Annotated[
    str | None,
    typer.Option(
        "--api-key",
        help="Key for --api-url; default: [api] api_keys, else $TASKSTATE_HOME/api_key.",
        envvar="TASKSTATE_API_KEY",
    ),
]


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
    from taskstate.runtime.protocol import WorkerBackendSpec

    if not workers.state_backend:
        return None
    return WorkerBackendSpec(workers.state_backend, dict(workers.state_backend_kwargs))


def settings() -> Settings:
    from taskstate.config import load_settings

    return load_settings()


@contextmanager
def api_client(
    config: Settings, api_url: str | None, api_key: str | None
) -> Iterator[tuple[str, PublicClient]]:
    """A client of the API server at ``api_url``, or of an embedded one."""
    from taskstate.api.keys import client_api_key
    from taskstate.client._retry import RetryPolicy
    from taskstate.client.public import PublicClient

    key = client_api_key(config, api_key)
    seconds = config.api.client_retry_seconds
    retry = RetryPolicy(seconds) if seconds > 0 else None
    if api_url:
        with PublicClient(api_url, key, retry=retry) as client:
            yield api_url, client
        return
    from taskstate.api.server import EmbeddedServer

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
