"""The scheduler decides what ``airflow dags test``'s passes decide, whatever order tries end in.

``dags_test`` below is the reference: the loop of Airflow 3.3.2's ``DAG.test`` written plainly,
one pass after the other, each deciding every scheduled instance from the states the run had
when the pass began, then running what it picked to the end. The scheduler must end every
instance in the same state while tries run in parallel and end in any order.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from taskstate.runner.graph import TaskGraph
from taskstate.runner.instances import Instances, TiKey
from taskstate.runner.passes import Scheduler
from taskstate.runner.trigger_rules import TRIGGER_RULES, Upstream, Verdict, decide

RULES = sorted(TRIGGER_RULES)


@dataclass
class Case:
    """A DAG, the instances of each task, how each try ends and what each branch skips."""

    tasks: list[Any]
    indices: dict[str, list[int]]
    # How an instance that runs ends, and after how many tries.
    outcome: dict[TiKey, tuple[str, int]]
    # A branch instance that succeeds skips these tasks.
    branches: dict[TiKey, set[str]] = field(default_factory=dict)

    def graph(self) -> TaskGraph:
        return TaskGraph(self.tasks)

    def instances(self) -> Instances:
        return Instances(
            {"id": f"{t}:{i}", "task_id": t, "map_index": i, "state": "scheduled"}
            for t, indices in self.indices.items()
            for i in indices
        )


def make_case(
    edges: list[tuple[str, str]],
    *,
    rules: Mapping[str, str] | None = None,
    indices: Mapping[str, list[int]] | None = None,
    outcome: Mapping[TiKey, tuple[str, int]] | None = None,
    branches: Mapping[TiKey, set[str]] | None = None,
    **attributes: dict[str, Any],
) -> Case:
    names = sorted({n for edge in edges for n in edge} | set(rules or {}) | set(indices or {}))
    tasks = {
        n: SimpleNamespace(
            task_id=n,
            upstream_task_ids=set(),
            downstream_task_ids=set(),
            trigger_rule=(rules or {}).get(n, "all_success"),
            **attributes.get(n, {}),
        )
        for n in names
    }
    for up, down in edges:
        tasks[up].downstream_task_ids.add(down)
        tasks[down].upstream_task_ids.add(up)
    order: list[Any] = []
    while len(order) < len(tasks):
        order.extend(
            t
            for t in tasks.values()
            if t not in order and all(tasks[u] in order for u in t.upstream_task_ids)
        )
    all_indices = {n: list((indices or {}).get(n, [-1])) for n in names}
    ends = {(n, i): ("success", 1) for n in names for i in all_indices[n]}
    ends.update(outcome or {})
    return Case(order, all_indices, ends, dict(branches or {}))


def dags_test(case: Case) -> dict[TiKey, str]:
    """The reference: Airflow's ``dags test`` loop, one pass at a time."""
    graph = case.graph()
    state: dict[TiKey, str | None] = {k: None for k in case.outcome}
    seen_at: dict[TiKey, int] = {}  # the pass from which a finished instance is seen
    running: dict[TiKey, int] = {}  # the pass its last try runs in
    next_pass_skips: set[TiKey] = set()
    k = 0
    while any(s is None for s in state.values()) or running:
        seen = {key: s for key, s in state.items() if key in seen_at and seen_at[key] <= k}
        skips_now, next_pass_skips = next_pass_skips, set()
        picked: list[TiKey] = []
        for node in graph:
            keys = [(node.task_id, i) for i in case.indices[node.task_id]]
            undecided = [key for key in keys if state[key] is None and key not in running]
            if not undecided:
                continue

            def count(task_ids: Any, seen: dict[TiKey, str | None] = seen) -> Upstream:
                return Upstream.count(
                    (seen.get((t, i)), graph[t].is_setup) for t in task_ids for i in case.indices[t]
                )

            verdict = decide(
                node.trigger_rule,
                count(node.upstream),
                indirect_setups=None if node.is_teardown else count(node.indirect_setups),
                teardown_scope_done=count(node.teardown_scope).all_done,
            )
            for key in undecided:
                if key in skips_now:
                    state[key], seen_at[key] = "skipped", k + 1
                elif verdict == Verdict.RUN:
                    picked.append(key)
                elif verdict != Verdict.WAIT:
                    state[key], seen_at[key] = str(verdict), k + 1
        for key in picked:
            running[key] = k + case.outcome[key][1] - 1  # a retry runs in the next pass
        for key, last in list(running.items()):
            if last != k:
                continue
            del running[key]
            state[key] = case.outcome[key][0]
            seen_at[key] = k + 1
            if state[key] == "success" and key in case.branches:
                for target in sorted(case.branches[key]):
                    for index in case.indices[target]:
                        t = (target, index)
                        if state[t] is not None or t in running:
                            continue
                        if key[1] < 0 and index < 0:
                            state[t], seen_at[t] = "skipped", k + 1
                        elif (
                            target in graph[key[0]].downstream
                            and index >= 0
                            and (key[1] in (-1, index))
                        ):
                            next_pass_skips.add(t)
        k += 1
        assert k < 100, "the reference never ends"
    return {key: str(s) for key, s in state.items()}


def scheduled(case: Case, rng: random.Random) -> dict[TiKey, str]:
    """The scheduler, with tries ending in the order ``rng`` picks."""
    tis = case.instances()
    scheduler = Scheduler(case.graph(), tis)
    running: list[TiKey] = []
    while True:
        running.extend(d.key for d in scheduler.advance() if d.verdict == Verdict.RUN)
        if not running:
            break
        key = running.pop(rng.randrange(len(running)))
        state, tries = case.outcome[key]
        scheduler.finished(key, state, tries)
        if state == "success" and key in case.branches:
            scheduler.skip_downstream(key, case.branches[key])
    assert scheduler.undecided() == []
    return dict(tis.states)


def check(case: Case, orders: int = 10) -> dict[TiKey, str]:
    expected = dags_test(case)
    for seed in range(orders):
        assert scheduled(case, random.Random(seed)) == expected, f"order {seed}"
    return expected


# -- the cases where the order of ends matters -------------------------------------------


def test_a_skip_and_a_failure_in_the_same_pass_make_all_success_upstream_failed() -> None:
    # k skips and f fails in pass 0: pass 1 sees both, and the failure wins.
    case = make_case(
        [("k", "d"), ("f", "d")], outcome={("k", -1): ("skipped", 1), ("f", -1): ("failed", 1)}
    )
    assert check(case)[("d", -1)] == "upstream_failed"


def test_a_skip_seen_a_pass_before_a_failure_makes_all_success_skipped() -> None:
    # f runs a pass later than k: pass 1 sees only the skip.
    case = make_case(
        [("k", "d"), ("x", "f"), ("f", "d")],
        outcome={("k", -1): ("skipped", 1), ("f", -1): ("failed", 1)},
    )
    assert check(case)[("d", -1)] == "skipped"


def test_a_retry_takes_a_pass() -> None:
    # f's second try runs in pass 1, so pass 1 sees k skipped and f not finished.
    case = make_case(
        [("k", "d"), ("f", "d")], outcome={("k", -1): ("skipped", 1), ("f", -1): ("failed", 2)}
    )
    assert check(case)[("d", -1)] == "skipped"


def test_one_success_runs_before_the_other_upstream_tasks_end() -> None:
    case = make_case(
        [("a", "d"), ("x", "y"), ("y", "z"), ("z", "d")],
        rules={"d": "one_success"},
        outcome={("z", -1): ("failed", 1)},
    )
    assert check(case)[("d", -1)] == "success"


def test_a_branch_skips_in_its_own_pass_and_the_join_waits() -> None:
    case = make_case(
        [("b", "x"), ("b", "y"), ("y", "y2"), ("x", "j"), ("y2", "j")],
        rules={"j": "none_failed_min_one_success"},
        branches={("b", -1): {"y"}},
    )
    states = check(case)
    assert [states[(t, -1)] for t in ("x", "y", "y2", "j")] == [
        "success",
        "skipped",
        "skipped",
        "success",
    ]


def test_a_short_circuit_skipping_everything_below_overrides_their_rules() -> None:
    case = make_case(
        [("sc", "a"), ("a", "c")], rules={"c": "all_done"}, branches={("sc", -1): {"a", "c"}}
    )
    assert check(case)[("c", -1)] == "skipped"
    respecting = make_case(
        [("sc", "a"), ("a", "c")], rules={"c": "all_done"}, branches={("sc", -1): {"a"}}
    )
    assert check(respecting)[("c", -1)] == "success"


def test_a_branch_skips_the_instances_of_a_mapped_task_in_the_next_pass() -> None:
    # Airflow skips (task, -1) directly, and a mapped task's instances when the next pass looks.
    case = make_case(
        [("b", "m"), ("b", "x"), ("m", "j"), ("x", "j")],
        indices={"m": [0, 1]},
        rules={"j": "none_failed"},
        branches={("b", -1): {"m"}},
    )
    states = check(case)
    assert states[("m", 0)] == states[("m", 1)] == "skipped"


def test_a_mapped_branch_skips_its_own_index_only() -> None:
    case = make_case(
        [("b", "m"), ("b", "n")],
        indices={"b": [0, 1], "m": [0, 1], "n": [0, 1]},
        branches={("b", 0): {"m"}, ("b", 1): {"n"}},
    )
    states = check(case)
    assert [states[("m", 0)], states[("m", 1)], states[("n", 0)], states[("n", 1)]] == [
        "skipped",
        "success",
        "success",
        "skipped",
    ]


def test_setups_and_teardowns() -> None:
    setup = {"is_setup": True}
    teardown = {"is_teardown": True}
    case = make_case(
        [("s", "w1"), ("w1", "w2"), ("w2", "t"), ("s", "t")],
        rules={"w2": "all_done", "t": "all_done_setup_success"},
        outcome={("s", -1): ("failed", 1)},
        s=setup,
        t=teardown,
    )
    states = check(case)
    assert [states[(t, -1)] for t in ("w1", "w2", "t")] == ["upstream_failed"] * 3
    work_fails = make_case(
        [("s", "w"), ("w", "t"), ("s", "t")],
        rules={"t": "all_done_setup_success"},
        outcome={("w", -1): ("failed", 1)},
        s=setup,
        t=teardown,
    )
    assert check(work_fails)[("t", -1)] == "success"


# -- any DAG, any order -------------------------------------------------------------------


@st.composite
def cases(draw: st.DrawFn) -> Case:
    n = draw(st.integers(2, 7))
    names = [f"t{i}" for i in range(n)]
    edges = [(names[i], names[j]) for i in range(n) for j in range(i + 1, n) if draw(st.booleans())]
    rules = {name: draw(st.sampled_from(RULES)) for name in names}
    indices = {name: draw(st.sampled_from([[-1], [-1], [0, 1], [0, 1, 2]])) for name in names}
    outcome = {
        (name, i): (
            draw(st.sampled_from(["success", "success", "failed", "skipped"])),
            draw(st.integers(1, 2)),
        )
        for name in names
        for i in indices[name]
    }
    attributes: dict[str, dict[str, Any]] = {}
    for name in names:
        kind = draw(st.sampled_from(["task", "task", "task", "setup", "teardown"]))
        if kind == "setup":
            attributes[name] = {"is_setup": True}
        elif kind == "teardown":
            attributes[name] = {"is_teardown": True}
            rules[name] = "all_done_setup_success"
    downstream = {name: [d for u, d in edges if u == name] for name in names}
    branches = {
        (name, i): set(draw(st.lists(st.sampled_from(downstream[name]), max_size=3)))
        for name in names
        if downstream[name] and draw(st.integers(0, 3)) == 0
        for i in indices[name]
    }
    return make_case(
        edges, rules=rules, indices=indices, outcome=outcome, branches=branches, **attributes
    )


@settings(max_examples=300, deadline=None)
@given(case=cases(), seed=st.integers(0, 2**32))
def test_any_dag_ends_as_in_dags_test_whatever_the_order_tries_end_in(
    case: Case, seed: int
) -> None:
    assert scheduled(case, random.Random(seed)) == dags_test(case)


# -- mapping over outputs -----------------------------------------------------------------


def placeholder_case(
    source: tuple[str, int], rule: str = "all_success"
) -> tuple[Scheduler, Instances]:
    case = make_case(
        [("src", "m"), ("m", "after")],
        rules={"m": rule, "after": "none_failed"},
        outcome={("src", -1): source},
        m={"mapped_output_task_ids": {"src"}},
    )
    tis = case.instances()
    return Scheduler(case.graph(), tis), tis


def test_a_placeholder_runs_once_its_source_succeeded_then_gives_way_to_its_instances() -> None:
    scheduler, tis = placeholder_case(("success", 1))
    assert [d.key for d in scheduler.advance()] == [("src", -1)]
    scheduler.finished(("src", -1), "success")
    [decision] = scheduler.advance()
    assert (decision.key, decision.verdict, decision.at) == (("m", -1), Verdict.RUN, 1)
    new = [{"id": f"m:{i}", "task_id": "m", "map_index": i, "state": "scheduled"} for i in (0, 1)]
    assert scheduler.expanded("m", new) == [("m", 0), ("m", 1)]
    assert scheduler.advance() == []
    scheduler.finished(("m", 0), "success")
    assert scheduler.advance() == []  # after waits for every instance
    scheduler.finished(("m", 1), "failed")
    [after] = scheduler.advance()
    assert (after.key, after.verdict, tis.states[("after", -1)]) == (
        ("after", -1),
        Verdict.UPSTREAM_FAILED,
        "upstream_failed",
    )


def test_an_empty_mapping_skips_the_placeholder() -> None:
    scheduler, _ = placeholder_case(("success", 1))
    scheduler.advance()
    scheduler.finished(("src", -1), "success")
    scheduler.advance()
    ended = [{"id": "m:-1", "task_id": "m", "map_index": -1, "state": "skipped"}]
    assert scheduler.expanded("m", ended) == []
    [after] = scheduler.advance()
    assert (after.key, after.verdict) == (("after", -1), Verdict.RUN)


def test_a_placeholder_over_a_skipped_source_is_skipped_whatever_its_rule() -> None:
    scheduler, _ = placeholder_case(("skipped", 1), rule="none_failed")
    scheduler.advance()
    scheduler.finished(("src", -1), "skipped")
    decisions = scheduler.advance()
    assert [(d.key, d.verdict) for d in decisions] == [
        (("m", -1), Verdict.SKIPPED),
        (("after", -1), Verdict.RUN),  # none_failed: a skipped upstream task is no failure
    ]


def test_a_placeholder_over_a_failed_source_is_upstream_failed_whatever_its_rule() -> None:
    scheduler, _ = placeholder_case(("failed", 1), rule="all_done")
    scheduler.advance()
    scheduler.finished(("src", -1), "failed")
    decision, *_ = scheduler.advance()
    assert (decision.key, decision.verdict) == (("m", -1), Verdict.UPSTREAM_FAILED)


def test_a_try_that_ends_skipped_by_itself_counts_as_skipped() -> None:
    case = make_case(
        [("a", "b"), ("a", "c")],
        rules={"c": "none_failed"},
        outcome={("a", -1): ("skipped", 1)},
    )
    states = check(case)
    assert (states[("b", -1)], states[("c", -1)]) == ("skipped", "success")
