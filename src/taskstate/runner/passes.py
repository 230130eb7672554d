"""Scheduling in passes: Airflow's order of decisions, kept while tries run in parallel.

``airflow dags test`` schedules a run in passes. A pass looks at every scheduled task instance
against the states the run had when the pass began: it ends some without a try (``skipped``,
``upstream_failed``), picks those whose trigger rule is met, and runs them; only the next pass
sees what this one did. A rule that decides before every upstream instance has finished
(``all_success`` ends skipped at the first skipped upstream, ``one_success`` runs at the first
success) therefore decides on what *earlier passes* finished, whatever the order in which
tries happen to end.

:class:`Scheduler` computes the same decisions without making a try wait for tries it does not
depend on. Every decided instance carries the pass it was decided in (``at``): the pass its
try ran in (a retry runs in the pass after the try it follows), or the pass it ended in. It is
*seen* from pass ``at + 1``. A scheduled instance is decided for pass ``k`` from the instances
seen by pass ``k``, as soon as that set is known:

- a finished instance decided in pass ``d`` is seen from ``d + 1``;
- an instance still running since pass ``d`` is not seen by a pass ``k <= d``; for a later pass
  its outcome is needed, so the decision waits for its try to end;
- a scheduled instance whose task has been looked at (and waited) in every pass before ``k`` is
  not seen by pass ``k``, unless an unfinished task upstream of it could still skip it (a branch
  that runs in a pass before ``k``): then the decision waits.

Branch and short-circuit skips are applied as Airflow applies them: an unmapped branch ends
its unmapped downstream instances ``skipped`` in its own pass; the instances of a mapped
downstream task (and those of a mapped branch's instance) are skipped in the next pass.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from taskstate.runner.graph import Node, TaskGraph
from taskstate.runner.instances import Instances, TiKey
from taskstate.runner.trigger_rules import (
    Upstream,
    Verdict,
    decide,
    evaluate_mapped_dependencies,
    evaluate_setups,
)

__all__ = ["FINAL", "Decision", "Scheduler"]

FINAL = frozenset({"success", "failed", "upstream_failed", "skipped"})
# A decided instance that has not finished: its try is waiting for a slot, running or retrying.
RUNNING = "running"
SCHEDULED = "scheduled"
_NEVER = 1 << 62


@dataclass(frozen=True)
class Decision:
    """An instance decided in pass ``at``: to run (``Verdict.RUN``) or to end without a try."""

    key: TiKey
    verdict: Verdict
    at: int
    # Why it ends without a try: "rule" (its trigger rule), "setup" (an indirect setup ended
    # without success), "mapped" (a task it maps over did) or "branch" (``by`` skipped it).
    cause: str = "rule"
    # The branch or short-circuit instance that skipped it, if one did.
    by: TiKey | None = None


class _Blocked(Exception):
    """What a pass would see is not known yet."""


@dataclass(frozen=True)
class _PendingSkip:
    by: TiKey
    at: int
    # True: the skip happens while the branch's pass runs, after that pass has looked at the
    # instance; False: the next pass ends the instance skipped instead of looking at it.
    after_look: bool


class Scheduler:
    """Decides the scheduled instances of one run, pass by pass (see the module docstring).

    Pure bookkeeping: the runner tells it what happened (:meth:`finished`, :meth:`expanded`,
    :meth:`skip_downstream`) and asks it what to do next (:meth:`advance`).
    """

    def __init__(self, graph: TaskGraph, tis: Instances) -> None:
        self.graph = graph
        self.tis = tis
        # Instances that ended before the runner started (a resumed run's) are seen by every
        # pass.
        self.at: dict[TiKey, int] = {key: -1 for key, state in tis.states.items() if state in FINAL}
        # Per task: the first pass its scheduled instances have not been looked at in.
        self.frontier: dict[str, int] = {node.task_id: 0 for node in graph}
        self._pending: dict[TiKey, _PendingSkip] = {}
        self._stuck: set[str] = set()
        # Per task: how many instances are still scheduled, and how many of those decided to
        # run are still running, by pass (so that a look need not go through every instance).
        self._scheduled = Counter(key[0] for key in tis.states if self._undecided(key))
        self._running: defaultdict[str, Counter[int]] = defaultdict(Counter)
        # Per task, as of the last advance: the first pass in which an unfinished task
        # upstream of it may run (and so skip its instances); the states upstream of it hold
        # for every earlier pass. Upstream tasks are advanced first, so it is current when read.
        self._quiet: dict[str, int] = {}

    # -- what the runner reports ----------------------------------------------------------------

    def finished(self, key: TiKey, state: str, tries: int = 1) -> None:
        """A decided instance ended in ``state`` after ``tries`` tries."""
        self._stop_running(key)
        self.tis.states[key] = state
        self.at[key] += max(tries, 1) - 1

    def expanded(self, task_id: str, task_instances: list[dict[str, Any]]) -> list[TiKey]:
        """The placeholder of ``task_id``, decided to run, gave way to ``task_instances``
        (or ended itself: an empty mapping skips it, a failed one fails it). Return the
        instances to start."""
        self._stop_running((task_id, -1))
        at = self.at.pop((task_id, -1))
        self.tis.replace(task_id, task_instances)
        start = []
        for index in self.tis.indices(task_id):
            key = (task_id, index)
            self.at[key] = at
            if self.tis.states[key] not in FINAL:
                self.tis.states[key] = RUNNING
                self._running[task_id][at] += 1
                start.append(key)
        return start

    def skip_downstream(self, branch: TiKey, task_ids: Iterable[str]) -> list[Decision]:
        """The branch instance ``branch`` succeeded and skips ``task_ids``: end their instances
        that are still scheduled, in the pass Airflow would. Return those ended now."""
        node = self.graph[branch[0]]
        ended: list[Decision] = []
        for task_id in sorted(set(task_ids)):
            for index in self.tis.indices(task_id):
                key = (task_id, index)
                if not self._undecided(key):
                    continue
                if branch[1] < 0 and index < 0:
                    skip = _PendingSkip(branch, self.at[branch], after_look=True)
                elif task_id in node.downstream and index >= 0 and branch[1] in (-1, index):
                    # Airflow's "not previously skipped" check, when the next pass looks.
                    skip = _PendingSkip(branch, self.at[branch] + 1, after_look=False)
                else:
                    continue
                if self.frontier[task_id] > skip.at:  # that pass has looked already
                    ended.append(self._decide(key, Verdict.SKIPPED, skip.at, by=branch))
                else:
                    self._pending[key] = skip
        return ended

    # -- what to do next --------------------------------------------------------------------

    def advance(self) -> list[Decision]:
        """Decide every scheduled instance whose next pass can be decided now."""
        decisions: list[Decision] = []
        for node in self.graph:  # upstream tasks first, so that each look sees their news
            while self._scheduled[node.task_id] and node.task_id not in self._stuck:
                decided = self._look(node, self.frontier[node.task_id])
                if decided is None:
                    break
                decisions.extend(decided)
            self._quiet[node.task_id] = min(
                (min(self._activity(up), self._quiet[up]) for up in node.upstream), default=_NEVER
            )
        return decisions

    def undecided(self, task_ids: Iterable[str] | None = None) -> list[TiKey]:
        """The instances still scheduled (of ``task_ids``, or of every task)."""
        keys = (
            self.tis.states
            if task_ids is None
            else (key for task_id in task_ids for key in self._keys(task_id))
        )
        return [key for key in keys if self._undecided(key)]

    # -- one look ---------------------------------------------------------------------------

    def _look(self, node: Node, k: int) -> list[Decision] | None:
        """Look at the task's scheduled instances in pass ``k``: None if that cannot be done
        yet, else what was decided (the task's frontier moves past ``k``)."""
        try:
            verdict, settled, cause = self._verdict(node, k)
        except _Blocked:
            return None
        decisions = []
        waiting = False
        for key in self._keys(node.task_id):
            if not self._undecided(key):
                continue
            skip = self._pending.get(key)
            if skip is not None and skip.at == k and not skip.after_look:
                decisions.append(self._decide(key, Verdict.SKIPPED, k, by=skip.by))
            elif verdict != Verdict.WAIT:
                decisions.append(self._decide(key, verdict, k, cause=cause))
            elif skip is not None and skip.at == k:
                decisions.append(self._decide(key, Verdict.SKIPPED, k, by=skip.by))
            else:
                waiting = True
        self.frontier[node.task_id] = k + 1
        if waiting and settled and not self._pending_after(node.task_id, k):
            # Everything it depends on is seen and final: later passes would wait the same.
            self._stuck.add(node.task_id)
            return decisions or None
        return decisions

    def _verdict(self, node: Node, k: int) -> tuple[Verdict, bool, str]:
        """The task's verdict in pass ``k``, whether every instance it looked at was seen
        finished (so that no later pass can see more), and the cause of an end."""
        seen: list[list[str | None]] = []

        def states(task_ids: Iterable[str]) -> list[tuple[str | None, bool]]:
            found: list[tuple[str | None, bool]] = []
            for task_id in task_ids:
                snapshot = self._snapshot(task_id, k)
                seen.append(snapshot)
                found.extend((state, self.graph[task_id].is_setup) for state in snapshot)
            return found

        direct = Upstream.count(states(node.upstream))
        setups = None if node.is_teardown else Upstream.count(states(node.indirect_setups))
        scope_done = all(state is not None for state, _ in states(node.teardown_scope))
        mapped = None
        if self._is_placeholder(node):
            unexpanded = []
            complete = True
            for task_id in node.mapped_dependencies:
                snapshot = self._snapshot(task_id, k)
                seen.append(snapshot)
                complete = complete and None not in snapshot
                if self.tis.indices(task_id) == [-1]:
                    unexpanded.extend(snapshot)
            mapped = evaluate_mapped_dependencies(unexpanded, complete=complete)
        verdict = decide(
            node.trigger_rule,
            direct,
            indirect_setups=setups,
            teardown_scope_done=scope_done,
            mapped_dependencies=mapped,
        )
        settled = all(None not in snapshot for snapshot in seen)
        cause = "rule"
        if verdict in (Verdict.SKIPPED, Verdict.UPSTREAM_FAILED):
            if mapped == verdict:
                cause = "mapped"
            elif setups is not None and setups.total and evaluate_setups(setups) == verdict:
                cause = "setup"
        return verdict, settled, cause

    def _snapshot(self, task_id: str, k: int) -> list[str | None]:
        """The states of the task's instances as pass ``k`` sees them: None for one not
        finished by then. Raises _Blocked when that is not known yet."""
        running = self._running[task_id]
        if running and min(running) < k:  # seen by pass k, but how it ends is not known yet
            raise _Blocked
        found: list[str | None] = []
        for key in self._keys(task_id):
            state = self.tis.states[key]
            at = self.at.get(key)
            if state in FINAL and at is not None:
                found.append(state if at < k else None)
            elif at is not None:  # running since pass k or later: not seen
                found.append(None)
            else:
                skip = self._pending.get(key)
                if self.frontier[task_id] < k or (skip is not None and skip.at < k):
                    raise _Blocked
                if self._quiet[task_id] < k:
                    # An unfinished task upstream of it may run before pass k, and skip it.
                    raise _Blocked
                found.append(None)
        return found

    def _activity(self, task_id: str) -> int:
        """The first pass in which an unfinished instance of the task may still run."""
        earliest = _NEVER
        if self._scheduled[task_id]:
            earliest = self.frontier[task_id]
        if self._running[task_id]:
            earliest = min(earliest, min(self._running[task_id]))
        return earliest

    # -- helpers ----------------------------------------------------------------------------

    def _keys(self, task_id: str) -> Sequence[TiKey]:
        return [(task_id, index) for index in self.tis.indices(task_id)]

    def _undecided(self, key: TiKey) -> bool:
        return key not in self.at and self.tis.states[key] == SCHEDULED

    def _stop_running(self, key: TiKey) -> None:
        passes = self._running[key[0]]
        passes[self.at[key]] -= 1
        if not passes[self.at[key]]:
            del passes[self.at[key]]

    def _is_placeholder(self, node: Node) -> bool:
        return bool(node.mapped_dependencies) and self.tis.indices(node.task_id) == [-1]

    def _pending_after(self, task_id: str, k: int) -> bool:
        return any(skip.at > k for key, skip in self._pending.items() if key[0] == task_id)

    def _decide(
        self,
        key: TiKey,
        verdict: Verdict,
        at: int,
        *,
        cause: str = "rule",
        by: TiKey | None = None,
    ) -> Decision:
        self.at[key] = at
        self._pending.pop(key, None)
        self._scheduled[key[0]] -= 1
        if verdict == Verdict.RUN:
            self.tis.states[key] = RUNNING
            self._running[key[0]][at] += 1
        else:
            self.tis.states[key] = str(verdict)
        return Decision(key, verdict, at, "branch" if by is not None else cause, by)
