"""One DAG run: register it, run its task instances in dependency order, report.

The runner decides *when* a task instance runs (its upstream tasks succeeded, a slot is free,
its retry delay has passed); the API server decides *what state* it is in. Each try runs in a
supervisor process of its own (:mod:`taskstate.supervisor`), whose output the runner streams
to the terminal, prefixed with the task id.

A task whose upstream task failed ends ``upstream_failed``; one whose upstream task was skipped
ends ``skipped``, as does a task mapped over an empty list (:mod:`taskstate.runner.mapping`).
A run with skipped tasks and no failed ones succeeds.
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
from taskstate.runner import mapping
from taskstate.runner.instances import Instances, TiKey
from taskstate.runner.instances import label as ti_label
from taskstate.runner.output import RunOutput
from taskstate.runtime.protocol import WorkerBackendSpec
from taskstate.sdk.dag import DAG
from taskstate.sdk.node import AbstractOperator as Task
from taskstate.supervisor.job import SupervisorJob

__all__ = ["DagRunner", "RunResult", "default_run_id"]

_FINAL = {"success", "failed", "upstream_failed", "skipped"}
_FAILED = {"failed", "upstream_failed"}
_SUCCEEDED = {"success", "skipped"}
# States a try is left in when its supervisor ends without reporting it.
_UNREPORTED = {"queued", "running"}


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
        max_map_length: int,
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
        self.max_map_length = max_map_length
        self.heartbeat_interval = heartbeat_interval
        self.worker_backend = worker_backend
        self.output = output
        self._stopping = threading.Event()

    def _register(self, order: list[Task]) -> Instances:
        """Create the run, with one instance per task and map index known so far."""
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
                for map_index in self._registered_indices(t)
            ],
        }
        return Instances(self.client.create_run(body)["task_instances"])

    def _registered_indices(self, task: Task) -> list[int]:
        """The task's map indices, but a placeholder for literal lists over the limit: it
        fails when expanded, like a mapping over an output that is too long."""
        literal = task.is_mapped and not task.maps_over_outputs
        if literal and task.map_count({}) > self.max_map_length:
            return [-1]
        return task.map_indices

    def run(self) -> RunResult:
        order = self.dag.topological_order()
        tis = self._register(order)
        self.output.run_started(self.dag.dag_id, self.run_id, len(order))
        running: dict[Future[str], TiKey] = {}
        with ThreadPoolExecutor(self.parallelism, thread_name_prefix="taskstate-ti") as pool:
            try:
                while True:
                    for task in order:
                        self._schedule(task, tis, pool, running)
                    if not running:
                        break
                    done, _ = wait(running, return_when=FIRST_COMPLETED)
                    for future in done:
                        tis.states[running.pop(future)] = future.result()
            except BaseException:
                self._stopping.set()
                raise
        final = "success" if all(s in _SUCCEEDED for s in tis.states.values()) else "failed"
        self.client.finish_run(self.dag.dag_id, self.run_id, final)
        run = self.client.get_run(self.dag.dag_id, self.run_id)
        position = {t.task_id: i for i, t in enumerate(order)}
        ordered = sorted(
            run["task_instances"], key=lambda ti: (position[ti["task_id"]], ti["map_index"])
        )
        return RunResult(self.dag.dag_id, self.run_id, final, ordered)

    def _schedule(
        self,
        task: Task,
        tis: Instances,
        pool: ThreadPoolExecutor,
        running: dict[Future[str], TiKey],
    ) -> None:
        """Start, skip or fail what can be of the task's scheduled instances.

        A task instance waits for every instance of its upstream tasks; a task mapped over
        their outputs is expanded first.
        """
        upstream = tis.states_of(task.upstream_task_ids)
        ready = all(s == "success" for s in upstream)
        placeholder = (task.task_id, -1)
        if ready and task.is_mapped and tis.states.get(placeholder) == "scheduled":
            placeholder_id = tis.ids[placeholder]
            expanded = mapping.expand(
                self.client,
                self.output,
                self.run_id,
                task,
                placeholder_id,
                max_map_length=self.max_map_length,
            )
            tis.replace(task.task_id, expanded)
        for map_index in tis.indices(task.task_id):
            key = (task.task_id, map_index)
            if tis.states[key] != "scheduled":
                continue
            name = ti_label(*key)
            if any(s in _FAILED for s in upstream):
                tis.states[key] = self.client.mark_upstream_failed(tis.ids[key])["state"]
                self.output.line(name, "[runner] skipped: an upstream task failed")
            elif "skipped" in upstream:
                tis.states[key] = self.client.skip_task_instance(tis.ids[key])["state"]
                self.output.line(name, "[runner] skipped: an upstream task was skipped")
            elif ready and len(running) < self.parallelism:
                tis.states[key] = "running"
                future = pool.submit(self._run_task_instance, task, tis.ids[key], name)
                running[future] = key

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
