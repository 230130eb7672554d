"""Every trigger rule over every mix of two upstream instances, with Airflow 3.3.2's answers.

The expected table follows ``airflow/ti_deps/deps/trigger_rule_dep.py`` (its
``_evaluate_direct_relatives``: the states it sets with ``flag_upstream_failed``, then the
conditions under which it passes). It was checked against ``airflow dags test`` of a DAG with one
downstream task per rule and mix, where ``n`` (not finished) is an upstream task one pass
slower than the other: a rule that decides on ``n`` decides before that task ends.
"""

from __future__ import annotations

import pytest

from taskstate.runner.trigger_rules import (
    TRIGGER_RULES,
    Upstream,
    Verdict,
    decide,
    evaluate_mapped_dependencies,
    evaluate_rule,
    evaluate_setups,
)

# Upstream instances: s success, f failed, k skipped, u upstream_failed, n not finished.
MIXES = ("ss", "sn", "fn", "kn", "un", "nn", "sf", "sk", "su", "fk", "ku", "ff", "kk", "uu")
_STATES = {"s": "success", "f": "failed", "k": "skipped", "u": "upstream_failed", "n": None}
# R run, W wait, S skipped, U upstream_failed; one column per mix above.
EXPECTED = {
    #                               ss sn fn kn un nn sf sk su fk ku ff kk uu
    "all_success": "                R  W  U  S  U  W  U  S  U  U  U  U  S  U",
    "all_failed": "                 S  S  W  S  W  W  S  S  S  S  S  R  S  R",
    "all_done": "                   R  W  W  W  W  W  R  R  R  R  R  R  R  R",
    # Skipped is not "done" here: one skipped upstream ends it, even before the rest finish.
    "all_done_min_one_success": "   R  W  W  S  W  W  R  S  R  S  S  U  S  U",
    # Without upstream setups, this is all_done (see test_all_done_setup_success below).
    "all_done_setup_success": "     R  W  W  W  W  W  R  R  R  R  R  R  R  R",
    # Runs at the first success; all done without one: skipped if all skipped, else failed.
    "one_success": "                R  R  W  W  W  W  R  R  R  U  U  U  S  U",
    # upstream_failed counts as a failure.
    "one_failed": "                 S  W  R  W  R  W  R  S  R  R  R  R  S  R",
    # Only success and failed count as done: skipped and upstream_failed upstreams skip it.
    "one_done": "                   R  R  R  W  W  W  R  R  R  R  S  R  S  S",
    "none_failed": "                R  W  U  W  U  W  U  R  U  U  U  U  R  U",
    "none_failed_min_one_success": "R  W  U  W  U  W  U  R  U  U  U  U  S  U",
    # A failed upstream does not stop it: only a skip does.
    "none_skipped": "               R  W  W  S  W  W  R  S  R  S  S  R  S  R",
    "all_skipped": "                S  S  S  W  S  W  S  S  S  S  S  S  R  S",
    "always": "                     R  R  R  R  R  R  R  R  R  R  R  R  R  R",
}
_VERDICTS = {
    "R": Verdict.RUN,
    "W": Verdict.WAIT,
    "S": Verdict.SKIPPED,
    "U": Verdict.UPSTREAM_FAILED,
}


def upstream(mix: str, setups: str = "") -> Upstream:
    """Counts of the instances in ``mix``; those in ``setups`` (same letters) are setups."""
    pairs = [(_STATES[c], False) for c in mix] + [(_STATES[c], True) for c in setups]
    return Upstream.count(pairs)


CASES = [
    (rule, mix, _VERDICTS[letter])
    for rule, row in EXPECTED.items()
    for mix, letter in zip(MIXES, row.split(), strict=True)
]


def test_the_table_covers_every_rule() -> None:
    assert set(EXPECTED) == TRIGGER_RULES
    assert len(TRIGGER_RULES) == 13


@pytest.mark.parametrize(("rule", "mix", "expected"), CASES, ids=[f"{r}-{m}" for r, m, _ in CASES])
def test_rule(rule: str, mix: str, expected: Verdict) -> None:
    assert evaluate_rule(rule, upstream(mix)) == expected
    assert decide(rule, upstream(mix)) == expected


@pytest.mark.parametrize("rule", sorted(TRIGGER_RULES))
def test_a_task_without_upstream_tasks_runs_whatever_its_rule(rule: str) -> None:
    assert decide(rule, upstream("")) == Verdict.RUN


def test_counts_every_instance_of_a_mapped_upstream() -> None:
    # Four instances of one mapped task: one failed, one skipped (trigger_rule_dep counts
    # task instances, not tasks, once an upstream task is mapped).
    four = upstream("sfks")
    assert (four.total, four.success, four.failed, four.skipped) == (4, 2, 1, 1)
    assert evaluate_rule("one_success", four) == Verdict.RUN
    assert evaluate_rule("all_done", four) == Verdict.RUN
    assert evaluate_rule("all_success", four) == Verdict.UPSTREAM_FAILED
    assert evaluate_rule("none_skipped", four) == Verdict.SKIPPED
    assert evaluate_rule("all_done", upstream("sssn")) == Verdict.WAIT


@pytest.mark.parametrize(
    ("mix", "setups", "expected"),
    [
        # Work and setup done, the setup succeeded: the teardown runs even if work failed.
        ("f", "s", Verdict.RUN),
        ("u", "s", Verdict.RUN),
        # It waits for everything upstream, work included.
        ("n", "s", Verdict.WAIT),
        ("f", "n", Verdict.WAIT),
        # No setup succeeded: skipped if they were all skipped, else upstream_failed.
        ("k", "k", Verdict.SKIPPED),
        ("u", "f", Verdict.UPSTREAM_FAILED),
        ("k", "kf", Verdict.UPSTREAM_FAILED),
        # One setup of two succeeded: something was set up, so it is torn down.
        ("u", "fs", Verdict.RUN),
        ("k", "ks", Verdict.RUN),
    ],
)
def test_all_done_setup_success(mix: str, setups: str, expected: Verdict) -> None:
    assert evaluate_rule("all_done_setup_success", upstream(mix, setups)) == expected


@pytest.mark.parametrize(
    ("setups", "expected"),
    [
        ("ss", Verdict.RUN),
        ("sn", Verdict.WAIT),
        # A failure or a skip ends the task without waiting for the other setups, failure first.
        ("fn", Verdict.UPSTREAM_FAILED),
        ("un", Verdict.UPSTREAM_FAILED),
        ("kn", Verdict.SKIPPED),
        ("kf", Verdict.UPSTREAM_FAILED),
    ],
)
def test_indirect_setups(setups: str, expected: Verdict) -> None:
    assert evaluate_setups(upstream(setups)) == expected


def test_indirect_setups_come_before_the_rule() -> None:
    # An all_done task after a failed setup's work: the work is done, but the setup failed
    # (trigger_rule_dep's _evaluate_setup_constraint returns before the rule is looked at).
    assert decide("all_done", upstream("u"), indirect_setups=upstream("f")) == (
        Verdict.UPSTREAM_FAILED
    )
    assert decide("all_done", upstream("s"), indirect_setups=upstream("k")) == Verdict.SKIPPED
    # A setup still running holds the task, but the rule may still end it.
    assert decide("all_done", upstream("s"), indirect_setups=upstream("n")) == Verdict.WAIT
    assert decide("all_success", upstream("k"), indirect_setups=upstream("n")) == (Verdict.SKIPPED)
    assert decide("all_done", upstream("s"), indirect_setups=upstream("s")) == Verdict.RUN
    # always ignores setups, as it ignores everything.
    assert decide("always", upstream("n"), indirect_setups=upstream("f")) == Verdict.RUN


def test_a_teardown_waits_for_its_scope() -> None:
    assert decide("all_done_setup_success", upstream("s", "s"), teardown_scope_done=False) == (
        Verdict.WAIT
    )
    assert decide("all_done_setup_success", upstream("s", "s"), teardown_scope_done=True) == (
        Verdict.RUN
    )
    # The scope matters only once the rule is met.
    assert decide("all_done_setup_success", upstream("k", "k"), teardown_scope_done=False) == (
        Verdict.SKIPPED
    )


@pytest.mark.parametrize(
    ("states", "complete", "expected"),
    [
        (["success"], True, Verdict.RUN),
        ([None], False, Verdict.WAIT),
        (["success", None], False, Verdict.WAIT),
        (["skipped"], True, Verdict.SKIPPED),
        (["failed"], True, Verdict.UPSTREAM_FAILED),
        (["upstream_failed", None], False, Verdict.UPSTREAM_FAILED),
        (["skipped", "failed"], True, Verdict.UPSTREAM_FAILED),
        # An expanded mapped upstream has no unexpanded instance: its outputs just need to be there.
        ([], True, Verdict.RUN),
    ],
)
def test_mapped_dependencies(states: list[str | None], complete: bool, expected: Verdict) -> None:
    assert evaluate_mapped_dependencies(states, complete=complete) == expected


def test_a_mapped_placeholder_follows_both_its_rule_and_its_mapped_dependencies() -> None:
    skipped_source = evaluate_mapped_dependencies(["skipped"], complete=True)
    # none_failed would run after a skipped upstream, but there is nothing to map over.
    assert decide("none_failed", upstream("k"), mapped_dependencies=skipped_source) == (
        Verdict.SKIPPED
    )
    failed_source = evaluate_mapped_dependencies(["failed"], complete=True)
    assert decide("all_done", upstream("f"), mapped_dependencies=failed_source) == (
        Verdict.UPSTREAM_FAILED
    )
    # An end from either wins, upstream_failed over skipped.
    assert decide("all_failed", upstream("sf"), mapped_dependencies=failed_source) == (
        Verdict.UPSTREAM_FAILED
    )
    ready = evaluate_mapped_dependencies(["success"], complete=True)
    assert decide("all_success", upstream("s"), mapped_dependencies=ready) == Verdict.RUN
    not_yet = evaluate_mapped_dependencies([None], complete=False)
    assert decide("always", upstream("n"), mapped_dependencies=not_yet) == Verdict.WAIT


def test_an_unknown_rule_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown trigger rule 'sometimes'"):
        evaluate_rule("sometimes", upstream("s"))
