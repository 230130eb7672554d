"""One DAG run: register it, run its task instances in dependency order, report.

The runner decides *when* a task instance runs (its upstream tasks succeeded, a slot is free,
its retry delay has passed); the API server decides *what state* it is in. Each try runs in a
supervisor process of its own (:mod:`taskstate.supervisor`), whose output the runner streams
to the terminal, prefixed with the task id.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import msgspec

from taskstate.client.execution import ExecutionClient
from taskstate.client.public import PublicClient
from taskstate.errors import TaskStateError
from taskstate.runner.output import RunOutput
from taskstate.runtime.protocol import WorkerBackendSpec
from taskstate.sdk.dag import DAG
from taskstate.sdk.task import Task
from taskstate.supervisor.job import SupervisorJob

__all__ = ["DagRunner", "RunResult", "default_run_id"]

_FINAL = {"success", "failed", "upstream_failed"}
# States a try is left in when its supervisor ends without reporting it.
_UNREPORTED = {"queued", "running"}


# A task instance: its task id and map index (-1 unless the task is mapped).
TiKey = tuple[str, int]


def _label(task_id: str, map_index: int) -> str:
    return task_id if map_index < 0 else f"{task_id}[{map_index}]"


def default_run_id() -> str:
    return "manual__" + datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class RunResult:
    dag_id: str
    run_id: str
    state: str
    task_instances: list[dict[str, Any]] = field(default_factory=list)

    @property
    def succeeded(self) -> bool:
        return self.state == "success"


class DagRunner:
    """Runs one DAG run against an API server."""

    def __init__(
        self,
        dag: DAG,
        dag_file: str,
        *,
        client: PublicClient,
        api_url: str,
        run_id: str,
        parallelism: int,
        heartbeat_interval: float,
        worker_backend: WorkerBackendSpec | None,
        output: RunOutput,
    ) -> None:
        self.dag = dag
        self.dag_file = dag_file
        self.client = client
        self.api_url = api_url
        self.run_id = run_id
        self.parallelism = max(1, parallelism)
        self.heartbeat_interval = heartbeat_interval
        self.worker_backend = worker_backend
        self.output = output
        self._stopping = threading.Event()

    def _register(self, order: list[Task]) -> dict[TiKey, str]:
        """Create the run; return the id of each task instance, by task id and map index."""
        body = {
            "dag_id": self.dag.dag_id,
            "run_id": self.run_id,
            "dag_file": self.dag_file,
            "tasks": [
                {
                    "task_id": t.task_id,
                    "map_index": map_index,
                    "retries": t.retries,
                    "retry_delay_seconds": t.retry_delay.total_seconds(),
                    "inlets": [{"name": a.name, "uri": a.uri} for a in t.inlets],
                    "outlets": [{"name": a.name, "uri": a.uri} for a in t.outlets],
                }
                for t in order
                for map_index in t.map_indices
            ],
        }
        run = self.client.create_run(body)
        return {(ti["task_id"], ti["map_index"]): ti["id"] for ti in run["task_instances"]}

    def run(self) -> RunResult:
        order = self.dag.topological_order()
        ti_ids = self._register(order)
        self.output.run_started(self.dag.dag_id, self.run_id, len(order))
        states = dict.fromkeys(ti_ids, "scheduled")
        running: dict[Future[str], TiKey] = {}
        with ThreadPoolExecutor(self.parallelism, thread_name_prefix="taskstate-ti") as pool:
            try:
                while True:
                    for task in order:
                        # A task instance waits for every instance of its upstream tasks.
                        upstream = [
                            states[(up, index)]
                            for up in task.upstream_task_ids
                            for index in self.dag.tasks[up].map_indices
                        ]
                        for map_index in task.map_indices:
                            key = (task.task_id, map_index)
                            if states[key] != "scheduled":
                                continue
                            label = _label(task.task_id, map_index)
                            if any(s in ("failed", "upstream_failed") for s in upstream):
                                self.client.mark_upstream_failed(ti_ids[key])
                                states[key] = "upstream_failed"
                                self.output.line(label, "[runner] skipped: an upstream task failed")
                            elif all(s == "success" for s in upstream) and (
                                len(running) < self.parallelism
                            ):
                                states[key] = "running"
                                future = pool.submit(
                                    self._run_task_instance, task, ti_ids[key], label
                                )
                                running[future] = key
                    if not running:
                        break
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in done:
                        states[running.pop(future)] = future.result()
            except BaseException:
                self._stopping.set()
                raise
        final = "success" if all(s == "success" for s in states.values()) else "failed"
        self.client.finish_run(self.dag.dag_id, self.run_id, final)
        run = self.client.get_run(self.dag.dag_id, self.run_id)
        position = {t.task_id: i for i, t in enumerate(order)}
        tis = sorted(
            run["task_instances"], key=lambda ti: (position[ti["task_id"]], ti["map_index"])
        )
        return RunResult(self.dag.dag_id, self.run_id, final, tis)

    def _run_task_instance(self, task: Task, ti_id: str, label: str) -> str:
        """Run tries of one task instance until it succeeds or fails for good.

        ``label`` prefixes its lines: the task id, and ``[map_index]`` for a mapped instance.
        """
        while True:
            queued = self.client.queue_task_instance(ti_id)
            job = SupervisorJob(
                api_url=self.api_url,
                token=queued["token"],
                ti_id=ti_id,
                dag_file=self.dag_file,
                heartbeat_interval=self.heartbeat_interval,
                worker_backend=self.worker_backend,
            )
            code = self._supervise(label, job)
            state = str(self.client.get_task_instance(ti_id)["state"])
            if state in _UNREPORTED:
                state = self._fail_unreported_try(label, ti_id, queued["token"], state, code)
            if state == "up_for_retry":
                delay = task.retry_delay.total_seconds()
                self.output.line(label, f"[runner] retrying in {delay:g}s")
                if self._stopping.wait(delay):
                    return "failed"
                continue
            if state not in _FINAL:
                self.output.line(
                    label, f"[runner] supervisor ended with code {code}; task is {state}"
                )
                return "failed"
            return state

    def _fail_unreported_try(
        self, label: str, ti_id: str, token: str, state: str, code: int
    ) -> str:
        """Report a try its supervisor left queued or running (it crashed, or was killed).

        The try's own token still grants its task instance, so the runner ends the try as
        failed; it then retries or fails like any other, and the run can finish.
        """
        reason = f"the supervisor ended with code {code} without reporting the try"
        self.output.line(label, f"[runner] {reason}; marking it failed")
        client = ExecutionClient(self.api_url, token)
        try:
            return client.finish(ti_id, "failed", reason)
        except TaskStateError as exc:
            self.output.line(label, f"[runner] cannot mark the try failed: {exc}")
            return state
        finally:
            client.close()

    def _supervise(self, task_id: str, job: SupervisorJob) -> int:
        with subprocess.Popen(
            [sys.executable, "-m", "taskstate.supervisor"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        ) as proc:
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write(msgspec.json.encode(job))
            proc.stdin.close()
            for raw in proc.stdout:
                self.output.line(task_id, raw.decode(errors="replace").rstrip("\n"))
        return proc.returncode
