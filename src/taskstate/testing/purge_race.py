"""The purge race: tasks set keys while an operator clears them and the purge queue drains.

Writers set keys of one task instance again and again through the execution API, storing each
value first under a reference that is the same for every write of a key (as the seed's
``MemoryStateBackend`` and Airflow 3.3.2's rules make them), so that a purge of a cleared key
and a new set of it name the same object. A clearer removes keys through the public API (which
queues their references), and a drainer runs ``taskstate state purge``'s drain meanwhile.

After every acknowledged set the writer reads the key back. An acknowledged write is *lost*
when the key's row names an object that is gone while that row, at the same version (versions
are never reused), is still there after the object was found missing: a purge removed an object
that a live reference names. Shared by ``tests/api/test_purge_race.py`` and
``benchmarks/purge_race.py``.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from taskstate.client.execution import ExecutionClient
from taskstate.client.public import PublicClient
from taskstate.contracts.scopes import TaskInstanceId
from taskstate.runtime.references import PurgeMark, write_ref
from taskstate.runtime.worker_backend import WorkerBackend, class_path
from taskstate.state.backend import BaseStateBackend

__all__ = ["RaceBackend", "RaceReport", "run_race"]


class RaceBackend(BaseStateBackend):
    """A worker backend in this process's memory whose reference is a function of the task
    instance and key alone: ``race://<ti_id>/<key>``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._objects: dict[str, str] = {}

    def serialize_task_state_value(self, *, value: str, key: str, ti_id: str) -> str:
        ref = f"race://{ti_id}/{key}"
        with self._lock:
            self._objects[ref] = value
        return ref

    def deserialize_task_state_value(self, stored: str) -> str:
        with self._lock:
            return self._objects[stored]

    def purge_task_state(self, stored: str) -> None:
        with self._lock:
            self._objects.pop(stored, None)

    def holds(self, ref: str) -> bool:
        with self._lock:
            return ref in self._objects

    def get(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError

    set = delete = clear = aget = aset = adelete = aclear = get


@dataclass
class RaceReport:
    sets: int = 0
    """Acknowledged sets."""
    lost: int = 0
    """Acknowledged sets whose object a purge removed under a live reference."""
    restored: int = 0
    """Sets refused by a purge, whose object was stored again."""
    cleared: int = 0
    """Clears and deletes through the public API."""
    purged: int = 0
    """Objects the drains removed."""
    superseded: int = 0
    """Queue entries dropped because their reference was written again."""
    seconds: float = 0.0
    losses: list[str] = field(default_factory=list)


def run_race(
    url: str,
    public: Callable[[], PublicClient],
    ti_id: str,
    token: str,
    scope_names: tuple[str, str, str],
    *,
    sets: int,
    writers: int = 4,
    keys: int = 8,
    seed: int = 0,
    progress: Callable[[int], None] | None = None,
) -> RaceReport:
    """Run the race on the task instance ``ti_id`` (its try started, ``token`` its token) of
    ``scope_names`` (dag id, run id, task id) until ``sets`` sets are acknowledged."""
    backend = RaceBackend()
    worker = WorkerBackend(backend)
    path = class_path(RaceBackend)
    report = RaceReport()
    lock = threading.Lock()
    stop = threading.Event()
    failures: list[BaseException] = []
    per_writer = sets // writers
    tokens = [token]  # renewed by the heartbeat, as a supervisor renews its try's token

    def write(number: int) -> None:
        rng = random.Random(seed * 1000 + number)
        client = ExecutionClient(url, token)
        mark = PurgeMark()
        scope = TaskInstanceId(ti_id)
        try:
            for i in range(per_writer):
                client.set_token(tokens[-1])
                key = f"k{rng.randrange(keys)}"
                value = f'"{number}-{i}"'
                tries = [0]

                def store(key: str = key, value: str = value, tries: list[int] = tries) -> str:
                    tries[0] += 1
                    return backend.serialize_task_state_value(value=value, key=key, ti_id=ti_id)

                def send(ref: str, restored_after: int, key: str = key) -> int:
                    version, replaced = client.set_state_replacing(
                        scope, key, ref.encode(), path, restored_after=restored_after
                    )
                    if replaced.claim is not None:  # as a task does: purge, then report
                        for removed in replaced.refs:
                            backend.purge_task_state(removed.ref)
                        mark.saw(client.purged(replaced.claim))
                    return version

                write_ref(store, send, mark)
                lost = _check(client, scope, key, backend)
                with lock:
                    report.sets += 1
                    report.restored += tries[0] - 1
                    if lost:
                        report.lost += 1
                        report.losses.append(lost)
                    done = report.sets
                if progress is not None:
                    progress(done)
        except BaseException as exc:  # surfaced by the caller
            failures.append(exc)
        finally:
            client.close()

    def clear() -> None:
        rng = random.Random(seed)
        dag_id, run_id, task_id = scope_names
        with public() as client:
            try:
                while not stop.is_set():
                    if rng.random() < 0.2:
                        client.clear_task_state(dag_id, run_id, task_id)
                    else:
                        client.delete_task_state(dag_id, run_id, task_id, f"k{rng.randrange(keys)}")
                    with lock:
                        report.cleared += 1
                    time.sleep(rng.random() * 0.004)
            except BaseException as exc:
                failures.append(exc)

    def heartbeat() -> None:
        client = ExecutionClient(url, token)
        try:
            while not stop.wait(30):
                client.set_token(tokens[-1])
                tokens.append(client.heartbeat(ti_id).token)
        except BaseException as exc:
            failures.append(exc)
        finally:
            client.close()

    def drain() -> None:
        from taskstate.cli.purge import drain_queue

        with public() as client:
            try:
                while not stop.is_set():
                    done = drain_queue(client, worker)
                    with lock:
                        report.purged += done.purged
                        report.superseded += done.superseded
            except BaseException as exc:
                failures.append(exc)

    started = time.perf_counter()
    background = [threading.Thread(target=f) for f in (clear, drain, heartbeat)]
    foreground = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    for thread in background + foreground:
        thread.start()
    for thread in foreground:
        thread.join()
    stop.set()
    for thread in background:
        thread.join()
    report.seconds = time.perf_counter() - started
    if failures:
        raise failures[0]
    return report


def _check(client: ExecutionClient, scope: TaskInstanceId, key: str, backend: RaceBackend) -> str:
    """Read ``key`` back: a description of the loss if a live row names a purged object."""
    body = client.get_state(scope, key)
    if body.ref is None or backend.holds(body.ref):
        return ""
    again = client.get_state(scope, key)
    if again.ref == body.ref and again.version == body.version:
        return f"{key} at version {body.version}: {body.ref} is gone"
    return ""  # cleared (and perhaps set again) between the reads: not a loss
