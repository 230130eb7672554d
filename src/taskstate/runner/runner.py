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

from taskstate.client.public import PublicClient
from taskstate.runner.output import RunOutput
from taskstate.runtime.protocol import WorkerBackendSpec
from taskstate.sdk.dag import DAG
from taskstate.sdk.task import Task
from taskstate.supervisor.job import SupervisorJob

__all__ = ["DagRunner", "RunResult", "default_run_id"]

_FINAL = {"success", "failed", "upstream_failed"}


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

    def _register(self, order: list[Task]) -> dict[str, str]:
        """Create the run; return the id of each task's instance."""
        body = {
            "dag_id": self.dag.dag_id,
            "run_id": self.run_id,
            "dag_file": self.dag_file,
            "tasks": [
                {
                    "task_id": t.task_id,
                    "retries": t.retries,
                    "retry_delay_seconds": t.retry_delay.total_seconds(),
                    "inlets": [{"name": a.name, "uri": a.uri} for a in t.inlets],
                    "outlets": [{"name": a.name, "uri": a.uri} for a in t.outlets],
                }
                for t in order
            ],
        }
        run = self.client.create_run(body)
        return {ti["task_id"]: ti["id"] for ti in run["task_instances"]}

    def run(self) -> RunResult:
        order = self.dag.topological_order()
        ti_ids = self._register(order)
        self.output.run_started(self.dag.dag_id, self.run_id, len(order))
        states = {t.task_id: "scheduled" for t in order}
        running: dict[Future[str], str] = {}
        with ThreadPoolExecutor(self.parallelism, thread_name_prefix="taskstate-ti") as pool:
            try:
                while True:
                    for task in order:
                        tid = task.task_id
                        if states[tid] != "scheduled":
                            continue
                        upstream = [states[u] for u in task.upstream_task_ids]
                        if any(s in ("failed", "upstream_failed") for s in upstream):
                            self.client.mark_upstream_failed(ti_ids[tid])
                            states[tid] = "upstream_failed"
                            self.output.line(tid, "[runner] skipped: an upstream task failed")
                        elif all(s == "success" for s in upstream) and (
                            len(running) < self.parallelism
                        ):
                            states[tid] = "running"
                            future = pool.submit(self._run_task_instance, task, ti_ids[tid])
                            running[future] = tid
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
        return RunResult(self.dag.dag_id, self.run_id, final, run["task_instances"])

    def _run_task_instance(self, task: Task, ti_id: str) -> str:
        """Run tries of one task instance until it succeeds or fails for good."""
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
            code = self._supervise(task.task_id, job)
            state = str(self.client.get_task_instance(ti_id)["state"])
            if state == "up_for_retry":
                delay = task.retry_delay.total_seconds()
                self.output.line(task.task_id, f"[runner] retrying in {delay:g}s")
                if self._stopping.wait(delay):
                    return "failed"
                continue
            if state not in _FINAL:
                self.output.line(
                    task.task_id, f"[runner] supervisor ended with code {code}; task is {state}"
                )
                return "failed"
            return state

    def _supervise(self, task_id: str, job: SupervisorJob) -> int:
        proc = subprocess.Popen(
            [sys.executable, "-m", "taskstate.supervisor"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(msgspec.json.encode(job))
        proc.stdin.close()
        for raw in proc.stdout:
            self.output.line(task_id, raw.decode(errors="replace").rstrip("\n"))
        return proc.wait()
