"""``taskstate state purge``: remove objects of a worker-side backend that nothing names.

Two kinds of object outlive their reference:

* **queued**: deletions where the worker backend is not (the public API's delete and clear,
  the server's ``clear_on_success``, a deleted DAG run) leave the references they removed in
  the server's purge queue. :func:`drain_queue` claims each entry, removes its object through
  the backend's ``purge_*`` hook (or, for a backend with Airflow's hooks, its
  ``delete(scope, key)``), then acknowledges it, so a purge killed half way is simply run
  again (purging is idempotent). An entry whose reference was written again since is
  superseded: the server drops it and its object stays.
* **orphans**: a task killed between storing an object and writing its reference, or a write
  cut short, leaves an object no row names. :func:`sweep_orphans` lists the backend's objects
  (a :class:`~taskstate.state.ListableBackend`) in batches, asks the server which are named, and
  removes the rest. Only objects older than a grace period are considered, since a running task
  may be about to write the reference of an object it has just stored.

This runs where ``[workers] state_backend`` is configured: the objects, and the credentials
that reach them, are there. :func:`purge_command` is the command; ``taskstate.cli.state_commands``
registers it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from taskstate.cli.common import (
    ApiKey,
    ApiUrl,
    api_client,
    err,
    fail,
    parse_duration,
    plural,
    settings,
    worker_backend_spec,
)
from taskstate.errors import (
    BackendError,
    ConfigError,
    ForeignReferenceError,
    TaskStateError,
    UsageError,
)
from taskstate.state import ListableBackend

if TYPE_CHECKING:
    from taskstate.client.public import PublicClient
    from taskstate.config import Settings
    from taskstate.runtime.worker_backend import WorkerBackend

__all__ = ["BATCH", "PurgeReport", "drain_queue", "purge_command", "sweep_orphans"]

BATCH = 500
"""Queue entries claimed, or objects looked up, per request."""


@dataclass
class PurgeReport:
    """What a purge did (or, in a dry run, would do)."""

    purged: int = 0
    """Queued objects removed."""
    superseded: int = 0
    """Queue entries dropped because their reference was written again."""
    left: int = 0
    """Queue entries of other worker backends, left queued."""
    objects_checked: int = 0
    """Objects listed by the sweep."""
    orphans: int = 0
    """Objects that no reference named, removed (or listed, in a dry run)."""
    failed: list[str] = field(default_factory=list)
    """Objects whose removal failed, with the reason; queued ones stay queued."""
    refused: list[str] = field(default_factory=list)
    """Queued references naming another scope's object: dropped from the queue, object kept."""
    queued: set[str] = field(default_factory=set)
    """In a dry run, the queued references counted as to be purged (the sweep skips them)."""


Progress = Callable[[PurgeReport], None]


def _batches(items: Iterator[str], size: int) -> Iterator[list[str]]:
    while batch := list(islice(items, size)):
        yield batch


def drain_queue(
    client: PublicClient,
    worker: WorkerBackend,
    *,
    dry_run: bool = False,
    report: PurgeReport | None = None,
    progress: Progress | None = None,
    listed: Callable[[str], None] | None = None,
) -> PurgeReport:
    """Purge the queued objects of ``worker``'s backend; other backends' entries stay queued.

    An object whose purge fails stays queued and is recorded in ``report.failed``; the rest of
    the queue is still drained.
    """
    report = report or PurgeReport()
    after = 0
    while entries := client.list_purge_queue(limit=BATCH, after=after):
        after = entries[-1]["id"]
        mine = [e for e in entries if worker.owns(e["backend"])]
        report.left += len(entries) - len(mine)
        if dry_run:
            _dry_drain(client, worker, mine, report, listed)
        elif mine:
            _drain_batch(client, worker, [e["id"] for e in mine], report)
        if progress is not None:
            progress(report)
    return report


def _drain_batch(
    client: PublicClient, worker: WorkerBackend, ids: list[int], report: PurgeReport
) -> None:
    """Claim entries, purge their objects, report the claim done. While the claim holds, a
    set of one of these references waits; one that came first made its entry superseded.
    An entry whose removal fails is left out of the report: its claim lapses, and the next
    purge retries it."""
    answer = client.claim_purge(ids)
    report.superseded += answer["superseded"]
    done: list[int] = []
    for entry in answer["entries"]:
        try:
            _check_scope(worker, entry)
        except ForeignReferenceError as exc:
            report.refused.append(exc.message)
            done.append(entry["id"])  # the entry is bogus: dropped, the object kept
            continue
        try:
            worker.purge(entry["kind"], entry["ref"])
        except Exception as exc:
            report.failed.append(f"{entry['ref']!r} ({type(exc).__name__}: {exc})")
            continue
        report.purged += 1
        done.append(entry["id"])
    if done:
        client.release_purge(answer["claim"], done)


def _check_scope(worker: WorkerBackend, entry: dict[str, Any]) -> None:
    """Refuse an entry whose reference names another scope's object than the row it came
    from (a reference a task forged); entries without a recorded scope are not judged."""
    if entry.get("owner") is None:
        return
    what = f"{entry['kind']} state of {entry['owner']!r}"
    worker.check_bound(
        entry["ref"], kind=entry["kind"], owner=entry["owner"], key=entry.get("key"), what=what
    )


def _dry_drain(
    client: PublicClient,
    worker: WorkerBackend,
    entries: list[dict[str, Any]],
    report: PurgeReport,
    listed: Callable[[str], None] | None,
) -> None:
    """Count what a drain would do: entries whose key was set again since would be dropped."""
    refs = [e["ref"] for e in entries]
    try:
        named = set(client.find_refs(worker.path, refs)) if refs else set()
    except BackendError:
        named = set()  # the server cannot tell: a real drain purges them all too
    for ref in refs:
        if ref in named:
            report.superseded += 1
            continue
        report.purged += 1
        report.queued.add(ref)
        if listed is not None:
            listed(ref)


def sweep_orphans(
    client: PublicClient,
    worker: WorkerBackend,
    *,
    older_than: datetime,
    dry_run: bool = False,
    report: PurgeReport | None = None,
    progress: Progress | None = None,
    listed: Callable[[str], None] | None = None,
) -> PurgeReport:
    """Remove ``worker``'s objects older than ``older_than`` that no stored reference names."""
    backend = worker.backend
    if worker.style == "airflow":
        # Its objects are named by scope and key, which only the stored reference carries: an
        # object's URL never equals a stored reference, so every object would look orphaned.
        raise ConfigError(
            f"purge --orphans cannot sweep {worker.path}: it implements Apache Airflow's "
            "hooks, whose stored references do not match its objects' URLs; drain the queue "
            "without --orphans",
            detail={"backend": worker.path},
        )
    if not isinstance(backend, ListableBackend):
        raise ConfigError(
            f"purge --orphans needs a worker backend that can list its objects; "
            f"{worker.path} has no iter_objects() and purge_object()",
            detail={"backend": worker.path},
        )
    report = report or PurgeReport()
    for batch in _batches(backend.iter_objects(older_than=older_than), BATCH):
        report.objects_checked += len(batch)
        named = set(client.find_refs(worker.path, batch))
        for url in batch:
            if url in named or url in report.queued:
                continue  # named, or counted already as queued by a dry run
            if dry_run:
                report.orphans += 1
                if listed is not None:
                    listed(url)
                continue
            try:
                if backend.purge_object(url, older_than=older_than):
                    report.orphans += 1
            except Exception as exc:
                report.failed.append(f"{url!r} ({type(exc).__name__}: {exc})")
        if progress is not None:
            progress(report)
    return report


# -- the command ------------------------------------------------------------------------------


def purge_command(
    orphans: Annotated[
        bool,
        typer.Option(
            "--orphans",
            help="Also remove objects that no stored reference names (e.g. left by a task "
            "killed between storing a value and writing its reference).",
        ),
    ] = False,
    older_than: Annotated[
        str,
        typer.Option(
            "--older-than",
            help="With --orphans: only objects not modified for this long, since a running "
            "task may be about to write the reference of a new object. Seconds, HH:MM:SS or "
            "ISO 8601 (PT1H).",
        ),
    ] = "3600",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would be removed; remove nothing.")
    ] = False,
    path: Annotated[
        list[Path] | None,
        typer.Option(
            "--path", help="A folder to import the worker backend from, e.g. the DAG folder."
        ),
    ] = None,
    api_url: ApiUrl = None,
    api_key: ApiKey = None,
) -> None:
    """Remove objects of the worker backend whose references are gone.

    Run it where [workers] state_backend is configured. It drains the server's purge queue
    (references removed where no worker backend ran: the public API, clear_on_success, a
    deleted DAG run) through the backend's purge hooks; entries of other backends stay queued.
    """

    def show(item: str) -> None:
        print(f"would remove {item}")

    try:
        config = settings()
        grace = parse_duration(older_than, "--older-than")
        if grace > datetime.now(UTC) - datetime.min.replace(tzinfo=UTC):
            raise UsageError(f"--older-than reaches back before the year 1, got {older_than!r}")
        worker = _worker_backend(config, path or [])
        report = PurgeReport()
        with api_client(config, api_url, api_key) as (_, client), _progress() as progress:
            drain_queue(
                client, worker, dry_run=dry_run, report=report, progress=progress, listed=show
            )
            if orphans:
                sweep_orphans(
                    client,
                    worker,
                    older_than=datetime.now(UTC) - grace,
                    dry_run=dry_run,
                    report=report,
                    progress=progress,
                    listed=show,
                )
    except TaskStateError as exc:
        fail(exc)
    print(_summary(report, dry_run=dry_run, orphans=orphans))
    if report.failed:
        shown = "; ".join(report.failed[:5])
        more = f" and {len(report.failed) - 5} more" if len(report.failed) > 5 else ""
        fail(
            BackendError(
                f"{len(report.failed)} object(s) could not be removed (queued ones stay queued "
                f"for the next purge): {shown}{more}",
                detail={"failed": report.failed},
            )
        )


def _worker_backend(config: Settings, folders: list[Path]) -> WorkerBackend:
    from taskstate.runtime.worker_backend import load_worker_backend

    spec = worker_backend_spec(config.workers)
    if spec is None:
        raise ConfigError(
            "state purge needs [workers] state_backend: the backend that holds the objects "
            "(set TASKSTATE__WORKERS__STATE_BACKEND as the workers do)",
            detail={"setting": "[workers] state_backend"},
        )
    for folder in folders:
        sys.path.insert(0, str(folder.resolve()))
    worker = load_worker_backend(spec)
    assert worker is not None  # a spec always gives a backend
    return worker


@contextmanager
def _progress() -> Iterator[Callable[[PurgeReport], None] | None]:
    """A status line on a terminal's stderr while the purge runs; nothing when piped."""
    if not err.is_terminal:
        yield None
        return
    with err.status("purging") as status:

        def update(report: PurgeReport) -> None:
            status.update(
                f"purged {report.purged} queued, checked {report.objects_checked} objects, "
                f"{report.orphans} orphans"
            )

        yield update


def _summary(report: PurgeReport, *, dry_run: bool, orphans: bool) -> str:
    verb = "would purge" if dry_run else "purged"
    parts = [f"{verb} {plural(report.purged, 'queued object')}"]
    if report.superseded:
        parts.append(f"{report.superseded} superseded (a reference names them again)")
    if report.left:
        parts.append(f"{report.left} left for other backends")
    if report.refused:
        parts.append(f"{len(report.refused)} refused (naming another scope's object)")
    if orphans:
        verb = "would remove" if dry_run else "removed"
        parts.append(
            f"{verb} {plural(report.orphans, 'orphan')} of "
            f"{plural(report.objects_checked, 'object')} checked"
        )
    return "; ".join(parts)
