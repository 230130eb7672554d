"""Whole runs with Airflow's scheduling rules: trigger rules and skip propagation, branches and
short-circuits, setups and teardowns, mapped tasks, the run's state from its leaves, and
exponential retry backoff. The DAGs set the operator attributes on today's tasks after
creating them (``t.trigger_rule = "all_done"``), as the sdk's operators will carry them."""

from __future__ import annotations

from collections.abc import Callable
from textwrap import dedent
from typing import Any

import pytest

from taskstate.runner import RunResult
from taskstate.runner.retry import retry_delay_seconds

# A Run of tests/runner/conftest.py.
Run = Any

# A task of the given trigger rule after the given tasks, that prints that it ran.
RULED = """
def ruled(name, rule, *upstream):
    t = task(task_id=name)(lambda: print(name + " ran"))()
    t.trigger_rule = rule
    for up in upstream:
        up >> t
    return t

"""


def states(result: RunResult) -> dict[str, str]:
    return {
        ti["task_id"] + ("" if ti["map_index"] < 0 else f"[{ti['map_index']}]"): ti["state"]
        for ti in result.task_instances
    }


def test_every_trigger_rule_and_the_run_state_from_its_leaves(
    make_run: Callable[..., Run],
) -> None:
    run = make_run(
        RULED
        + dedent(
            """
        @task
        def ok():
            return "ok"

        @task
        def boom():
            raise ValueError("boom")

        @task.branch
        def branch():
            return []

        @task
        def k():
            print("k ran")

        o, b, br, kk = ok(), boom(), branch(), k()
        br >> kk  # followed by none: skipped
        ruled("all_success", "all_success", o, kk)
        ruled("none_failed", "none_failed", o, kk)
        ruled("one_failed", "one_failed", o, b)
        ruled("all_done", "all_done", b)
        ruled("one_success", "one_success", b, o)
        ruled("all_failed", "all_failed", o, b)
        ruled("none_failed_min_one_success", "none_failed_min_one_success", kk)
        ruled("all_skipped", "all_skipped", kk)
        ruled("none_skipped", "none_skipped", b, o)
        ruled("all_done_min_one_success", "all_done_min_one_success", o, b)
        ruled("always", "always", b)
        uf = ruled("upstream_failed", "all_success", b)
        ruled("one_done", "one_done", uf)
        """
        ),
        "rules_matrix",
    )
    result = run.run()
    assert states(result) == {
        "ok": "success",
        "boom": "failed",
        "branch": "success",
        "k": "skipped",
        "all_success": "skipped",
        "none_failed": "success",
        "one_failed": "success",
        "all_done": "success",
        "one_success": "success",
        "all_failed": "skipped",
        "none_failed_min_one_success": "skipped",
        "all_skipped": "success",
        "none_skipped": "success",
        "all_done_min_one_success": "success",
        "always": "success",
        "upstream_failed": "upstream_failed",
        # one_done counts successes and failures only: an upstream_failed upstream skips it.
        "one_done": "skipped",
    }, run.buffer.getvalue()
    # boom failed, but every leaf succeeded or was skipped: Airflow's run succeeds.
    assert result.state == "success"
    assert run.client.get_run("rules_matrix", "r1")["state"] == "success"
    assert run.lines("k") == ["[runner] skipped: branch skips it"]
    assert run.lines("all_success") == ["[runner] skipped: an upstream task was skipped"]
    assert run.lines("all_failed") == ["[runner] skipped: trigger rule all_failed ends it skipped"]
    assert "one_failed ran" in run.lines("one_failed")


SETUP_TEARDOWN = """
@task
def create():
    print("created")

@task
def work():
    {work}

@task
def delete():
    {delete}

s, w, t = create(), work(), delete()
s.is_setup = True
t.is_teardown = True
t.trigger_rule = "all_done_setup_success"
t.on_failure_fail_dagrun = {fail_dagrun}
s >> w >> t
s >> t
"""


@pytest.mark.parametrize(
    ("work", "delete", "fail_dagrun", "expected", "run_state"),
    [
        # The work failed: the teardown still runs; the work is the leaf, and fails the run.
        ("raise ValueError('work')", "print('deleted')", False, "success failed success", "failed"),
        # The teardown failed: that alone does not fail the run ...
        (
            "print('worked')",
            "raise ValueError('delete')",
            False,
            "success success failed",
            "success",
        ),
        # ... unless it has on_failure_fail_dagrun.
        ("print('worked')", "raise ValueError('delete')", True, "success success failed", "failed"),
    ],
    ids=["work_fails", "teardown_fails", "teardown_fails_the_run"],
)
def test_setup_and_teardown(
    make_run: Callable[..., Run],
    work: str,
    delete: str,
    fail_dagrun: bool,
    expected: str,
    run_state: str,
) -> None:
    source = SETUP_TEARDOWN.format(work=work, delete=delete, fail_dagrun=fail_dagrun)
    run = make_run(source, f"setup_teardown_{fail_dagrun}_{work[:5]}")
    result = run.run()
    assert states(result) == dict(zip(("create", "work", "delete"), expected.split(), strict=True))
    assert result.state == run_state


def test_a_failed_setup_fails_its_work_and_its_teardown(make_run: Callable[..., Run]) -> None:
    run = make_run(
        """
        @task
        def create():
            raise ValueError("cannot create")

        @task
        def work():
            print("worked")

        @task
        def more():
            print("more")

        @task
        def delete():
            print("deleted")

        s, w, m, t = create(), work(), more(), delete()
        s.is_setup = True
        # Runs whatever its upstream task did, but not without its setup.
        m.trigger_rule = "all_done"
        t.is_teardown = True
        t.trigger_rule = "all_done_setup_success"
        s >> w >> m >> t
        s >> t
        """,
        "setup_fails",
    )
    result = run.run()
    assert states(result) == {
        "create": "failed",
        "work": "upstream_failed",
        "more": "upstream_failed",
        "delete": "upstream_failed",
    }
    assert result.state == "failed"


def test_mapped_tasks_and_short_circuits(make_run: Callable[..., Run]) -> None:
    run = make_run(
        RULED
        + dedent(
            """
        @task.branch
        def branch():
            return []

        @task
        def source():
            return [1, 2]

        @task
        def each(x):
            print(x)

        br, src = branch(), source()
        br >> src  # followed by none: skipped
        # Mapped over the output of a skipped task: nothing to map over, whatever the rule.
        mapped = each.expand(x=src)
        mapped.trigger_rule = "none_failed"
        ruled("after_mapped", "none_failed", mapped)

        @task
        def part(x):
            if x == 2:
                raise ValueError("two")
            return x

        parts = part.expand(x=[1, 2, 3])
        ruled("any_part", "one_success", parts)
        ruled("every_part", "all_success", parts)

        @task.short_circuit
        def gate():
            return False

        g = gate()
        gated = ruled("gated", "all_success", g)
        # A short-circuit that skips everything below overrides this rule.
        ruled("after_gated", "all_done", gated)
        """
        ),
        "mapped_rules",
    )
    result = run.run()
    assert states(result) == {
        "branch": "success",
        "source": "skipped",
        "each": "skipped",
        "after_mapped": "success",
        "part[0]": "success",
        "part[1]": "failed",
        "part[2]": "success",
        "any_part": "success",
        "every_part": "upstream_failed",
        "gate": "success",
        "gated": "skipped",
        "after_gated": "skipped",
    }, run.buffer.getvalue()
    assert result.state == "failed"
    assert run.lines("each") == ["[runner] skipped: a task it maps over was skipped"]
    assert run.lines("after_gated") == ["[runner] skipped: gate skips it"]


def test_exponential_backoff(make_run: Callable[..., Run]) -> None:
    run = make_run(
        """
        @task(retries=1)
        def flaky(ti):
            if ti.try_number == 1:
                raise RuntimeError("first try fails")

        flaky().retry_exponential_backoff = True
        """,
        "backoff",
    )
    result = run.run()
    assert states(result) == {"flaky": "success"}
    # retry_delay 0 with backoff: a base of 1 s, and a jitter below one base.
    delay = retry_delay_seconds(
        run.runner.dag.tasks["flaky"].retry_delay,
        try_number=1,
        exponential_backoff=True,
        seed="backoff#r1#flaky#-1",
    )
    assert delay == 1.0
    assert "[runner] retrying in 1s" in run.lines("flaky")
