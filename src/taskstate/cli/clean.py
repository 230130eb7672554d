"""``taskstate state clean``: remove expired keys now, rather than at the server's next clean-up.

Expired keys are invisible already; cleaning gives their storage back and queues the objects
their references name for ``taskstate state purge``. The command asks the API server how many
keys have expired, then has it remove them a batch at a time (each batch one short transaction
on the server), with a progress bar on a terminal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from taskstate.cli.common import (
    ApiKey,
    ApiUrl,
    api_client,
    err,
    fail,
    plural,
    print_json,
    settings,
)
from taskstate.errors import TaskStateError

if TYPE_CHECKING:
    from taskstate.client.public import PublicClient

__all__ = ["CleanSummary", "clean_command", "clean_expired"]


@dataclass
class CleanSummary:
    """What ``state clean`` did (or, in a dry run, would do)."""

    dry_run: bool
    expired: int
    """Expired keys stored when the command started."""
    removed: int = 0
    references_queued: int = 0
    batches: int = 0

    def line(self) -> str:
        keys = plural(self.expired if self.dry_run else self.removed, "expired key")
        if self.dry_run:
            return f"would remove {keys}"
        refs = plural(self.references_queued, "reference")
        return (
            f"removed {keys} in {plural(self.batches, 'batch')}; "
            f"queued {refs} for `taskstate state purge`"
        )


Advance = Callable[[int], None]


def clean_expired(
    client: PublicClient,
    *,
    batch_size: int | None = None,
    dry_run: bool = False,
    progress: Callable[[int], Advance] | None = None,
) -> CleanSummary:
    """Count the expired keys, then (unless ``dry_run``) remove them batch by batch.

    ``progress(total)`` is called once with the count and returns a function that is told how
    many keys each batch removed.
    """
    summary = CleanSummary(dry_run=dry_run, expired=client.count_expired())
    if dry_run:
        return summary
    advance = progress(summary.expired) if progress is not None else None
    while True:
        answer = client.clean_expired(batch_size=batch_size)
        summary.batches += 1
        summary.removed += answer["removed"]
        summary.references_queued += answer["references_queued"]
        if advance is not None:
            advance(answer["removed"])
        # A short batch means nothing had expired beyond it. Keys expiring meanwhile are
        # invisible already and left for the next clean-up: once as many keys as were counted
        # are gone, the command ends, even while new ones keep expiring as fast as it removes.
        if answer["removed"] < answer["batch_size"] or summary.removed >= summary.expired:
            return summary


@contextmanager
def _progress_bar() -> Iterator[Callable[[int], Advance] | None]:
    """A progress bar on a terminal's stderr; nothing when stderr is piped."""
    if not err.is_terminal:
        yield None
        return
    columns = (
        TextColumn("removing expired keys"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=err) as bar:

        def start(total: int) -> Advance:
            task = bar.add_task("clean", total=total)

            def advance(removed: int) -> None:
                bar.advance(task, removed)
                done = bar.tasks[task].completed
                if done > total:  # keys that expired while cleaning
                    bar.update(task, total=done)

            return advance

        yield start


def clean_command(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Count the expired keys; remove nothing.")
    ] = False,
    batch_size: Annotated[
        int | None,
        typer.Option(
            "--batch-size",
            min=1,
            max=100_000,
            help="Keys per batch (one transaction each); default [state_store] cleanup_batch_size.",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a line.")] = False,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Remove expired keys now, and queue their objects for `taskstate state purge`.

    Expired keys are invisible already, and the API server removes them every
    [state_store] cleanup_interval_seconds; this does it on demand.
    """
    try:
        with api_client(settings(), api_url, api_key) as (_, client), _progress_bar() as bar:
            summary = clean_expired(client, batch_size=batch_size, dry_run=dry_run, progress=bar)
    except TaskStateError as exc:
        fail(exc)
    if as_json:
        print_json(asdict(summary))
    else:
        print(summary.line())
