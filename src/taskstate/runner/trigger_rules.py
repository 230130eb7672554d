"""Trigger rules: whether a scheduled task instance runs, waits, or ends without a try.

Pure functions of counts, with Apache Airflow 3.3.2's meaning for each of its 13 rules. The
counts are of the *instances* of the task's direct upstream tasks (every instance of a mapped
upstream task counts), taken from the states the run had when the scheduling pass began
(:mod:`taskstate.runner.passes`). An instance that has not finished counts in ``total`` only.

Points where the rules are not what their names suggest, all as Airflow has them:

- Some rules decide before every upstream instance has finished: ``one_success``,
  ``one_failed`` and ``one_done`` run as soon as one instance qualifies; ``all_success`` and
  ``none_failed`` end ``upstream_failed`` at the first failure; ``all_success``,
  ``none_skipped``, ``all_done_min_one_success`` end ``skipped`` at the first skip; and
  ``all_failed`` and ``all_skipped`` end ``skipped`` at the first instance that rules them out.
- "Done" means finished in any way (success, failed, skipped, upstream_failed) for ``all_done``
  and the waiting of the ``one_*`` rules, but ``one_done`` runs only on a success or a failure:
  upstream instances that all ended ``skipped`` or ``upstream_failed`` make it ``skipped``.
- ``upstream_failed`` counts as a failure everywhere (``all_failed`` runs when every upstream
  instance failed or is upstream_failed; ``one_failed`` runs on one).
- When all upstream instances ended without a success, ``one_success`` ends ``skipped`` if
  they were all skipped and ``upstream_failed`` otherwise.
- ``all_done_setup_success`` (a teardown's rule) waits for every upstream instance, then runs
  if at least one of its upstream setups succeeded (or it has none); with upstream setups of
  which none succeeded it ends ``skipped`` when they were all skipped, else ``upstream_failed``.
- A task with no upstream task, or with ``always``, runs at once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "TRIGGER_RULES",
    "Upstream",
    "Verdict",
    "decide",
    "evaluate_mapped_dependencies",
    "evaluate_rule",
    "evaluate_setups",
]

TRIGGER_RULES = frozenset(
    {
        "all_success",
        "all_failed",
        "all_done",
        "all_done_min_one_success",
        "all_done_setup_success",
        "one_success",
        "one_failed",
        "one_done",
        "none_failed",
        "none_failed_min_one_success",
        "none_skipped",
        "all_skipped",
        "always",
    }
)


class Verdict(StrEnum):
    """What becomes of a scheduled task instance in one scheduling pass."""

    RUN = "run"  # its try starts in this pass
    WAIT = "wait"  # it stays scheduled; a later pass looks again
    SKIPPED = "skipped"  # it ends skipped, without a try
    UPSTREAM_FAILED = "upstream_failed"  # it ends upstream_failed, without a try


_ENDS = (Verdict.UPSTREAM_FAILED, Verdict.SKIPPED)


@dataclass(frozen=True)
class Upstream:
    """Counts over a set of upstream task instances, finished or not.

    ``total`` counts every instance; the four states count the finished ones. The ``setup*``
    fields count the instances of upstream *setup* tasks among them (``setups`` finished or not).
    """

    total: int
    success: int = 0
    skipped: int = 0
    failed: int = 0
    upstream_failed: int = 0
    setups: int = 0
    setup_success: int = 0
    setup_skipped: int = 0

    @property
    def done(self) -> int:
        """How many have finished, in any state."""
        return self.success + self.skipped + self.failed + self.upstream_failed

    @property
    def all_done(self) -> bool:
        return self.done >= self.total

    @classmethod
    def count(cls, instances: Iterable[tuple[str | None, bool]]) -> Upstream:
        """Count ``(state, is_setup)`` pairs; the state is None for an unfinished instance."""
        total = setups = 0
        states: dict[str, int] = {}
        setup_states: dict[str, int] = {}
        for state, is_setup in instances:
            total += 1
            setups += is_setup
            if state is not None:
                states[state] = states.get(state, 0) + 1
                if is_setup:
                    setup_states[state] = setup_states.get(state, 0) + 1
        return cls(
            total=total,
            success=states.get("success", 0),
            skipped=states.get("skipped", 0),
            failed=states.get("failed", 0),
            upstream_failed=states.get("upstream_failed", 0),
            setups=setups,
            setup_success=setup_states.get("success", 0),
            setup_skipped=setup_states.get("skipped", 0),
        )


def _run_or_wait(condition: bool) -> Verdict:
    return Verdict.RUN if condition else Verdict.WAIT


def evaluate_rule(rule: str, up: Upstream) -> Verdict:
    """The verdict of ``rule`` over the direct upstream instances ``up``."""
    failures = up.failed + up.upstream_failed
    if rule == "always" or up.total == 0:
        return Verdict.RUN
    if rule == "all_success":
        if failures:
            return Verdict.UPSTREAM_FAILED
        if up.skipped:
            return Verdict.SKIPPED
        return _run_or_wait(up.success >= up.total)
    if rule == "all_failed":
        if up.success or up.skipped:
            return Verdict.SKIPPED
        return _run_or_wait(failures >= up.total)
    if rule == "all_done":
        return _run_or_wait(up.all_done)
    if rule == "all_done_min_one_success":
        if up.skipped:
            return Verdict.SKIPPED
        if not up.all_done:
            return Verdict.WAIT
        return Verdict.RUN if up.success else Verdict.UPSTREAM_FAILED
    if rule == "all_done_setup_success":
        if not up.all_done:
            return Verdict.WAIT
        if up.setups and not up.setup_success:
            # Every upstream setup ended without success: none of them set anything up.
            if up.setup_skipped >= up.setups:
                return Verdict.SKIPPED
            return Verdict.UPSTREAM_FAILED
        return Verdict.RUN
    if rule == "one_success":
        if up.success:
            return Verdict.RUN
        if not up.all_done:
            return Verdict.WAIT
        return Verdict.SKIPPED if up.skipped == up.done else Verdict.UPSTREAM_FAILED
    if rule == "one_failed":
        if failures:
            return Verdict.RUN
        return Verdict.SKIPPED if up.all_done else Verdict.WAIT
    if rule == "one_done":
        # Airflow counts only successes and failures here, not upstream_failed or skipped.
        if up.success or up.failed:
            return Verdict.RUN
        return Verdict.SKIPPED if up.all_done else Verdict.WAIT
    if rule == "none_failed":
        if failures:
            return Verdict.UPSTREAM_FAILED
        return _run_or_wait(up.success + up.skipped >= up.total)
    if rule == "none_failed_min_one_success":
        if failures:
            return Verdict.UPSTREAM_FAILED
        if up.skipped >= up.total:
            return Verdict.SKIPPED
        return _run_or_wait(up.all_done and up.success > 0)
    if rule == "none_skipped":
        if up.skipped:
            return Verdict.SKIPPED
        return _run_or_wait(up.all_done)
    if rule == "all_skipped":
        if up.success or failures:
            return Verdict.SKIPPED
        return _run_or_wait(up.skipped >= up.total)
    raise ValueError(f"unknown trigger rule {rule!r}")


def evaluate_setups(setups: Upstream) -> Verdict:
    """The verdict over a task's *indirect* setups (setups upstream of its upstream tasks whose
    teardown is downstream of it, or that have no teardown): the task runs only once they have
    all succeeded, and a failed or skipped one ends it at once, without waiting for the others."""
    if setups.failed or setups.upstream_failed:
        return Verdict.UPSTREAM_FAILED
    if setups.skipped:
        return Verdict.SKIPPED
    return _run_or_wait(setups.success >= setups.total)


def evaluate_mapped_dependencies(unexpanded: Iterable[str | None], *, complete: bool) -> Verdict:
    """The verdict over the tasks whose outputs a mapped task's placeholder maps over.

    ``unexpanded`` are the states of those tasks' unexpanded instances (None: not finished);
    ``complete`` tells whether every instance of them has finished, so that the outputs can be
    read. One that failed ends the placeholder ``upstream_failed``, one that was skipped ends it
    ``skipped``, whatever the task's trigger rule.
    """
    finished = {state for state in unexpanded if state is not None}
    if finished & {"failed", "upstream_failed"}:
        return Verdict.UPSTREAM_FAILED
    if "skipped" in finished:
        return Verdict.SKIPPED
    return _run_or_wait(complete)


def decide(
    rule: str,
    direct: Upstream,
    *,
    indirect_setups: Upstream | None = None,
    teardown_scope_done: bool = True,
    mapped_dependencies: Verdict | None = None,
) -> Verdict:
    """The verdict for one scheduled task instance in one pass.

    ``direct``: its direct upstream instances. ``indirect_setups``: its indirect setups (None
    for a teardown, or a task without any). ``teardown_scope_done``: for a teardown, whether
    every task between its setups and itself has finished (its rule is not met before).
    ``mapped_dependencies``: for a mapped task's placeholder, the verdict of
    :func:`evaluate_mapped_dependencies`.
    """
    if direct.total == 0 or rule == "always":
        verdict = Verdict.RUN
    else:
        setups = Verdict.RUN
        if indirect_setups is not None and indirect_setups.total:
            setups = evaluate_setups(indirect_setups)
        if setups in _ENDS:
            verdict = setups
        else:
            verdict = evaluate_rule(rule, direct)
            if verdict == Verdict.RUN and (setups == Verdict.WAIT or not teardown_scope_done):
                verdict = Verdict.WAIT
    if mapped_dependencies is None:
        return verdict
    # Both rules apply; an end decided by either wins, upstream_failed over skipped.
    for end in _ENDS:
        if end in (verdict, mapped_dependencies):
            return end
    if verdict == Verdict.RUN and mapped_dependencies == Verdict.RUN:
        return Verdict.RUN
    return Verdict.WAIT
