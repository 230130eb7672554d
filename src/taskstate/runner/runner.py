"""One DAG run: register it, run its task instances as Airflow would order them, report.

The runner decides *when* a task instance runs and when it ends without a try, with Apache
Airflow 3.3.2's rules: each task's trigger rule (:mod:`taskstate.runner.trigger_rules`),
setups and teardowns (:mod:`taskstate.runner.graph`), branch and short-circuit skips, and the
order of ``airflow dags test``'s scheduling passes (:mod:`taskstate.runner.passes`), so that
every instance ends in the state it would end in there. The API server decides *what state*
a try is in. Each try runs in a supervisor process of its own (:mod:`taskstate.supervisor`),
whose output the runner streams to the terminal, prefixed with the task id; a failed try
with retries left runs again after its delay (:mod:`taskstate.runner.retry`). The
supervisor also writes the try's output to its log file under ``log_folder``; the runner adds
its own lines about the try (a retry, a try left unreported) once the supervisor has ended.

The run's state is Airflow's: ``failed`` when an instance of a leaf task (see
:func:`taskstate.runner.graph.run_state`) failed or is upstream_failed, else ``success``.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from taskstate.client._retry import RetryPolicy
from taskstate.client.execution import ExecutionClient
from taskstate.client.public import PublicClient
from taskstate.contracts.types import WorkerBackendSpec
from taskstate.errors import UsageError
from taskstate.hardening import task_user
from taskstate.runner import mapping
from taskstate.runner.branching import downstream_to_skip
from taskstate.runner.dates import manual_data_interval
from taskstate.runner.graph import TaskGraph, run_state
from taskstate.runner.instances import Instances, TiKey
from taskstate.runner.instances import label as ti_label
from taskstate.runner.output import RunOutput
from taskstate.runner.passes import FINAL, Decision, Scheduler
from taskstate.runner.retry import retry_delay_seconds
from taskstate.runner.stopping import TryGroups, fail_try
from taskstate.runner.trigger_rules import Verdict
from taskstate.sdk.dag import DAG
from taskstate.sdk.node import AbstractOperator as Task
from taskstate.sdk.params import dag_params, resolve_params
from taskstate.supervisor.job import SupervisorJob
from taskstate.supervisor.logfile import append_lines, try_log_path
from taskstate.supervisor.process import INTERRUPTED

__all__ = ["DagRunner", "RunResult", "default_run_id"]

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
        logical_date: datetime | None = None,
        conf: dict[str, Any] | None = None,
        log_folder: Path | None = None,
        log_level: str = "INFO",
        run_as_user: str | None = None,
        client_retry_seconds: float = 60.0,
        resume: bool = False,
        stop_grace: float = 10.0,
        encryption_keys: list[tuple[str, bytes]] | None = None,
    ) -> None:
        """``logical_date`` (aware) dates the run as Airflow does (``ds``, the data interval);
        ``conf`` is its configuration, which overrides the DAG's params. ``run_as_user``
        (``[workers] run_as_user``) is checked here, before the run starts. With ``resume``, the
        run exists already and continues (see :meth:`_resume`). ``stop_grace``: seconds an
        interrupted try has to end before it is killed."""
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
        self.logical_date = logical_date
        self.conf = conf
        # Settings.logs_folder: where each try's log file is written; None: none is.
        self.log_folder = log_folder
        self.log_level = log_level
        task_user(run_as_user)  # refused now (not root, no such user) rather than at each try
        self.run_as_user = run_as_user
        self.client_retry_seconds = client_retry_seconds
        self.resume = resume
        # [workers] encryption_keys, for the task processes only (on the supervisor's stdin).
        self.encryption_keys = list(encryption_keys or [])
        self.groups = TryGroups(grace=stop_grace)
        self._stopping = self.groups.stopping

    def interrupt(self, reason: str) -> None:
        """Stop the run (from a signal handler): no new try starts, running tries are stopped
        and recorded failed; :meth:`run` then ends the run failed with the reason
        "interrupted". A second call kills the tries at once."""
        self.groups.stop(reason)

    def _dates(self) -> dict[str, str | None]:
        if self.logical_date is None:
            return {"logical_date": None}
        start, end = manual_data_interval(self.dag.schedule, self.logical_date)
        return {
            "logical_date": self.logical_date.isoformat(),
            "data_interval_start": start.isoformat(),
            "data_interval_end": end.isoformat(),
        }

    def _register(self, order: list[Task]) -> Instances:
        """Create the run, with one instance per task and map index known so far."""
        body = {
            "dag_id": self.dag.dag_id,
            "run_id": self.run_id,
            "dag_file": self.dag_file,
            **self._dates(),
            "conf": self.conf,
            "tasks": [
                {
                    "task_id": t.task_id,
                    "map_index": map_index,
                    "retries": t.retries,
                    "retry_delay_seconds": t.retry_delay.total_seconds(),
                    "inlets": [{"name": a.name, "uri": a.uri} for a in t.inlets],
                    "outlets": [{"name": a.name, "uri": a.uri} for a in t.outlets],
                    "outlet_aliases": [a.name for a in t.outlet_aliases],
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
        # As Airflow creates a run: its conf over the DAG's params, every value checked by its
        # schema, before anything is registered or run.
        resolve_params(dag_params(self.dag), None, self.conf)
        graph = TaskGraph(order)
        tis = self._resume(order) if self.resume else self._register(order)
        self.output.run_started(self.dag.dag_id, self.run_id, len(order))
        run = _Run(self, graph, tis)
        with ThreadPoolExecutor(self.parallelism, thread_name_prefix="taskstate-ti") as pool:
            try:
                run.loop(pool)
            except BaseException:
                self._stopping.set()
                raise
            finally:
                self.groups.close()
        if self.groups.reason is not None:
            # Every instance not ended yet ends failed, for the same reason as the run.
            final = "failed"
            self.client.finish_run(
                self.dag.dag_id, self.run_id, final, INTERRUPTED, end_unfinished=True
            )
        else:
            deadlocked = run.end_deadlocked()
            states: dict[str, list[str]] = {}
            for (task_id, _), state in tis.states.items():
                states.setdefault(task_id, []).append(state)
            final = "failed" if deadlocked else run_state(graph, states)
            self.client.finish_run(self.dag.dag_id, self.run_id, final)
        answer = self.client.get_run(self.dag.dag_id, self.run_id)
        position = {t.task_id: i for i, t in enumerate(order)}
        ordered = sorted(
            answer["task_instances"], key=lambda ti: (position[ti["task_id"]], ti["map_index"])
        )
        return RunResult(self.dag.dag_id, self.run_id, final, ordered)

    def _run_task_instance(self, task: Task, ti_id: str, key: TiKey) -> tuple[str, int]:
        """Run tries of one task instance until it ends; return its state and its tries."""
        label = ti_label(*key)
        timeout: timedelta | None = getattr(task, "execution_timeout", None)
        while True:
            if self._stopping.is_set():
                return "failed", 1  # never started; the run's end records it
            queued = self.client.queue_task_instance(ti_id)
            job = SupervisorJob(
                api_url=self.api_url,
                token=queued["token"],
                ti_id=ti_id,
                dag_file=self.dag_file,
                heartbeat_interval=self.heartbeat_interval,
                worker_backend=self.worker_backend,
                log_level=self.log_level,
                log_folder=None if self.log_folder is None else str(self.log_folder),
                execution_timeout=None if timeout is None else timeout.total_seconds(),
                run_as_user=self.run_as_user,
                client_retry_seconds=self.client_retry_seconds,
                encryption_keys=self.encryption_keys,
            )
            code = self._supervise(label, job)
            say = self._try_lines(label, queued)
            ti = self.client.get_task_instance(ti_id)
            state, tries = str(ti["state"]), int(ti["try_number"])
            if state in _UNREPORTED:
                state = self._fail_unreported_try(say, ti_id, queued["token"], state, code)
            if state == "up_for_retry":
                delay = self._retry_delay(task, key, tries)
                say(f"[runner] retrying in {delay:g}s")
                if self._stopping.wait(delay):
                    return "failed", tries
                continue
            if state not in FINAL:
                say(f"[runner] supervisor ended with code {code}; task is {state}")
                return "failed", tries
            return state, tries

    def _retry_delay(self, task: Task, key: TiKey, try_number: int) -> float:
        return retry_delay_seconds(
            getattr(task, "retry_delay", timedelta(0)),
            try_number=try_number,
            exponential_backoff=getattr(task, "retry_exponential_backoff", False),
            max_retry_delay=getattr(task, "max_retry_delay", None),
            seed=f"{self.dag.dag_id}#{self.run_id}#{key[0]}#{key[1]}",
        )

    def _try_lines(self, label: str, ti: dict[str, Any]) -> Callable[[str], None]:
        """Show the runner's lines about the try of ``ti`` (as queued) and add them to its log
        file, after the supervisor's."""
        path = None
        if self.log_folder is not None:
            path = try_log_path(
                self.log_folder,
                ti["dag_id"],
                ti["run_id"],
                ti["task_id"],
                ti["map_index"],
                ti["try_number"],
            )

        def say(line: str) -> None:
            nonlocal path
            self.output.line(label, line)
            if path is None:
                return
            try:
                append_lines(path, [line])
            except OSError as exc:
                self.output.line(label, f"[runner] cannot write the try's log file {path}: {exc}")
                path = None

        return say

    def _fail_unreported_try(
        self, say: Callable[[str], None], ti_id: str, token: str, state: str, code: int
    ) -> str:
        """Report a try its supervisor left queued or running (see ``stopping.fail_try``)."""
        seconds = self.client_retry_seconds
        client = ExecutionClient(
            self.api_url, token, retry=RetryPolicy(seconds) if seconds else None
        )
        try:
            return fail_try(client, say, ti_id, state, code, interrupted=self._stopping.is_set())
        finally:
            client.close()

    def _supervise(self, task_id: str, job: SupervisorJob) -> int:
        return self.groups.supervise(job, lambda text: self.output.line(task_id, text))

    def _resume(self, order: list[Task]) -> Instances:
        """Continue the existing run: its instances that did not end well are scheduled again
        (their task state kept), each for its next try; those that succeeded are kept."""
        answer = self.client.clear_run(self.dag.dag_id, self.run_id)
        in_run = {ti["task_id"] for ti in answer["task_instances"]}
        missing = [t.task_id for t in order if t.task_id not in in_run]
        if missing:
            raise UsageError(
                f"run {self.run_id!r} of {self.dag.dag_id!r} has no task {missing[0]!r}: it was "
                "made from another version of the DAG, and cannot be resumed with this one",
                detail={"dag_id": self.dag.dag_id, "run_id": self.run_id, "tasks": missing},
            )
        return Instances(answer["task_instances"])


class _Run:
    """The loop of one run: apply the scheduler's decisions, start tries in free slots,
    report each try's end back to the scheduler."""

    def __init__(self, runner: DagRunner, graph: TaskGraph, tis: Instances) -> None:
        self.runner = runner
        self.client = runner.client
        self.output = runner.output
        self.graph = graph
        self.tis = tis
        self.scheduler = Scheduler(graph, tis)
        self.tasks = runner.dag.tasks
        self.position = {task_id: i for i, task_id in enumerate(graph.nodes)}
        # Instances decided to run, waiting for a slot: earlier passes first.
        self.ready: list[tuple[int, int, int, str]] = []
        self.running: dict[Future[tuple[str, int]], TiKey] = {}

    def loop(self, pool: ThreadPoolExecutor) -> None:
        while True:
            stopping = self.runner.groups.stopping.is_set()
            while not stopping and (decisions := self.scheduler.advance()):
                for decision in decisions:
                    self._apply(decision)
            while not stopping and self.ready and len(self.running) < self.runner.parallelism:
                _, _, map_index, task_id = heapq.heappop(self.ready)
                key = (task_id, map_index)
                task = self.tasks[task_id]
                future = pool.submit(self.runner._run_task_instance, task, self.tis.ids[key], key)
                self.running[future] = key
            if not self.running:
                return
            done, _ = wait(self.running, return_when=FIRST_COMPLETED)
            for future in done:
                key = self.running.pop(future)
                state, tries = future.result()
                self.scheduler.finished(key, state, tries)
                if state == "success":
                    self._skip_for_branch(key)

    def _apply(self, decision: Decision) -> None:
        key = decision.key
        task = self.tasks[key[0]]
        if decision.verdict == Verdict.RUN:
            if task.is_mapped and key[1] < 0:
                self._expand(task)
            else:
                self._queue(key, decision.at)
            return
        ti_id = self.tis.ids[key]
        if decision.verdict == Verdict.UPSTREAM_FAILED:
            self.client.mark_upstream_failed(ti_id)
        else:
            self.client.skip_task_instance(ti_id)
        self.output.line(ti_label(*key), "[runner] skipped: " + _why(self.graph, decision))

    def _queue(self, key: TiKey, at: int) -> None:
        heapq.heappush(self.ready, (at, self.position[key[0]], key[1], key[0]))

    def _expand(self, task: Task) -> None:
        placeholder = (task.task_id, -1)
        expanded = mapping.expand(
            self.client,
            self.output,
            self.runner.run_id,
            task,
            self.tis.ids[placeholder],
            max_map_length=self.runner.max_map_length,
        )
        at = self.scheduler.at[placeholder]
        for key in self.scheduler.expanded(task.task_id, expanded):
            self._queue(key, at)

    def _skip_for_branch(self, key: TiKey) -> None:
        """After a branch or short-circuit instance succeeded, skip what it does not follow."""
        task = self.tasks[key[0]]
        wanted = downstream_to_skip(
            self.client, self.output, task, key, self.tis.ids[key], self.scheduler
        )
        if not wanted:
            return
        for decision in self.scheduler.skip_downstream(key, wanted):
            self._apply(decision)

    def end_deadlocked(self) -> bool:
        """End the instances no rule can decide (none, with Airflow's rules) upstream_failed,
        so that the run can finish; Airflow fails such a run as deadlocked. True if any."""
        stuck = self.scheduler.undecided()
        for key in stuck:
            self.client.mark_upstream_failed(self.tis.ids[key])
            self.tis.states[key] = "upstream_failed"
            self.output.line(
                ti_label(*key), "[runner] upstream_failed: its trigger rule is never met (deadlock)"
            )
        return bool(stuck)


def _why(graph: TaskGraph, decision: Decision) -> str:
    """Why an instance ends without a try, after ``[runner] skipped: ``."""
    failed = decision.verdict == Verdict.UPSTREAM_FAILED
    ended = "failed" if failed else "was skipped"
    if decision.by is not None:
        return f"{ti_label(*decision.by)} skips it"
    if decision.cause == "mapped":
        return f"a task it maps over {ended}"
    if decision.cause == "setup":
        return f"a setup task before it {ended}"
    rule = graph[decision.key[0]].trigger_rule
    if rule == "all_success":
        return f"an upstream task {ended}"
    return f"trigger rule {rule} ends it {decision.verdict}"
