"""``DagRunner`` in this process against a real API server: it registers the run, starts one
supervisor process per try, streams their output and reports the run."""

from __future__ import annotations

import itertools
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from taskstate.contracts.types import WorkerBackendSpec
from taskstate.errors import ConflictError
from taskstate.runner import RunResult

MEMORY_MODULE = Path(__file__).resolve().parents[2] / "examples" / "memory_state_backend.py"
# A Run of tests/runner/conftest.py.
Run = Any


def _states(result: RunResult) -> dict[str, tuple[str, int]]:
    return {ti["task_id"]: (ti["state"], ti["try_number"]) for ti in result.task_instances}


def test_a_run_succeeds_and_streams_each_tasks_output(make_run: Callable[..., Run]) -> None:
    run = make_run(
        """
        @task
        def first(task_state):
            task_state.set("handoff", [1, 2])
            print("first done")

        @task
        def second(ti):
            print(f"second sees {ti.task_id} try {ti.try_number}")

        first() >> second()
        """,
        "runner_ok",
    )
    result = run.run()
    assert result.succeeded and result.state == "success"
    assert [ti["task_id"] for ti in result.task_instances] == ["first", "second"]
    assert _states(result) == {"first": ("success", 1), "second": ("success", 1)}
    text = run.buffer.getvalue()
    assert text.startswith("DAG runner_ok: run r1 with 2 tasks\n")
    assert run.lines("first") == [
        "[supervisor] try 1 of first started",
        "first done",
        "[supervisor] try 1 succeeded",
    ]
    assert "second sees second try 1" in run.lines("second")
    assert run.task_state("first") == {"handoff": [1, 2]}
    assert run.client.get_run("runner_ok", "r1")["state"] == "success"

    run.output.summary(result.dag_id, result.run_id, result.state, result.task_instances)
    summary = run.buffer.getvalue()[len(text) :]
    assert "runner_ok / r1: success" in summary
    assert "first" in summary and "second" in summary


def test_retries_after_their_delay_and_failures_skip_downstream(
    make_run: Callable[..., Run],
) -> None:
    run = make_run(
        """
        @task(retries=2, retry_delay=0.3)
        def flaky(task_state, ti):
            starts = task_state.get("starts", []) + [time.time()]
            task_state.set("starts", starts)
            if ti.try_number < 3:
                raise RuntimeError(f"try {ti.try_number} fails")

        @task
        def bad():
            raise ValueError("bad")

        @task
        def child():
            print("child ran")

        @task
        def grandchild():
            print("grandchild ran")

        @task
        def independent():
            print("independent ran")

        flaky()
        bad() >> child() >> grandchild()
        independent()
        """,
        "runner_failures",
    )
    result = run.run()
    assert not result.succeeded and result.state == "failed"
    assert _states(result) == {
        "flaky": ("success", 3),
        "bad": ("failed", 1),
        "child": ("upstream_failed", 0),
        "grandchild": ("upstream_failed", 0),
        "independent": ("success", 1),
    }
    assert run.lines("flaky").count("[runner] retrying in 0.3s") == 2
    starts = run.task_state("flaky")["starts"]
    assert len(starts) == 3
    assert all(later - earlier >= 0.3 for earlier, later in itertools.pairwise(starts))
    assert run.lines("child") == ["[runner] skipped: an upstream task failed"]
    assert run.lines("grandchild") == ["[runner] skipped: an upstream task failed"]
    assert "independent ran" in run.lines("independent")
    assert run.client.get_run("runner_failures", "r1")["state"] == "failed"


def test_parallelism_one_runs_one_task_at_a_time(
    make_run: Callable[..., Run], tmp_path: Path
) -> None:
    record = tmp_path / "intervals"
    record.mkdir()
    run = make_run(
        f"""
        def interval(name):
            started = time.time()
            # Long enough that a second task started meanwhile would overlap.
            time.sleep(0.1)
            with open(os.path.join({str(record)!r}, name), "w") as f:
                json.dump([started, time.time()], f)

        for name in ("x", "y", "z"):
            task(task_id=name)(interval)(name)
        """,
        "runner_serial",
        parallelism=1,
    )
    result = run.run()
    assert result.succeeded, run.buffer.getvalue()
    intervals = sorted(json.loads(p.read_text()) for p in record.iterdir())
    assert len(intervals) == 3
    for (_, end), (start, _) in itertools.pairwise(intervals):
        assert end <= start


def test_a_run_id_already_used_is_refused_before_anything_runs(
    make_run: Callable[..., Run], tmp_path: Path
) -> None:
    source = """
    @task
    def once(task_state):
        task_state.set("runs", task_state.get("runs", 0) + 1)

    once()
    """
    assert make_run(source, "runner_twice").run().succeeded
    second = make_run(source, "runner_twice")
    with pytest.raises(ConflictError, match="already has a run 'r1'"):
        second.run()
    assert second.buffer.getvalue() == ""
    assert second.task_state("once") == {"runs": 1}


def test_the_worker_backend_reaches_the_task_process(
    make_run: Callable[..., Run], tmp_path: Path
) -> None:
    shutil.copy(MEMORY_MODULE, tmp_path / MEMORY_MODULE.name)
    run = make_run(
        """
        @task
        def stores(task_state):
            task_state.set("big", {"rows": list(range(5))})
            assert task_state.get("big") == {"rows": list(range(5))}
        stores()
        """,
        "runner_worker_backend",
        worker_backend=WorkerBackendSpec("memory_state_backend.MemoryStateBackend"),
    )
    result = run.run()
    assert result.succeeded, run.buffer.getvalue()
    assert any("[MemoryStateBackend] task stored 'big'" in line for line in run.lines("stores"))
    [entry] = run.client.list_task_state("runner_worker_backend", "r1", "stores")
    ti_id = result.task_instances[0]["id"]
    assert (entry["value"], entry["ref"], entry["backend"]) == (
        None,
        f"mem://{ti_id}/big",
        "memory_state_backend.MemoryStateBackend",
    )


def test_a_supervisor_that_dies_fails_its_try_and_the_run_still_finishes(
    make_run: Callable[..., Run],
) -> None:
    run = make_run(
        """
        @task(retries=1)
        def orphan(ti):
            if ti.try_number == 1:
                # Kill the supervisor: nobody is left to report this try.
                os.kill(os.getppid(), signal.SIGKILL)

        @task
        def lost():
            os.kill(os.getppid(), signal.SIGKILL)

        @task
        def after_lost():
            print("after_lost ran")

        orphan()
        lost() >> after_lost()
        """,
        "runner_orphans",
    )
    result = run.run()
    assert result.state == "failed"
    assert _states(result) == {
        "orphan": ("success", 2),
        "lost": ("failed", 1),
        "after_lost": ("upstream_failed", 0),
    }
    # Its task process died with it (a line may say the runner ended it, if it was not gone).
    [report] = [line for line in run.lines("lost") if line.endswith("marking it failed")]
    assert "supervisor ended with code -9" in report, run.lines("lost")
    assert run.client.get_run("runner_orphans", "r1")["state"] == "failed"


def test_a_task_mapped_over_an_output_gets_one_instance_per_item(
    make_run: Callable[..., Run],
) -> None:
    run = make_run(
        """
        @task
        def letters():
            return ["a", "b", "c"]

        @task
        def shout(letter, map_index):
            print(f"{map_index}: {letter}")
            return letter.upper()

        @task
        def join(shouted):
            print("joined " + "".join(shouted))

        join(shout.expand(letter=letters()))
        """,
        "runner_mapped_output",
    )
    result = run.run()
    assert result.succeeded, run.buffer.getvalue()
    assert [(ti["task_id"], ti["map_index"]) for ti in result.task_instances] == [
        ("letters", -1),
        ("shout", 0),
        ("shout", 1),
        ("shout", 2),
        ("join", -1),
    ]
    assert run.lines("shout") == ["[runner] mapped into 3 task instances"]
    assert "1: b" in run.lines("shout[1]")
    assert "joined ABC" in run.lines("join")
    assert run.client.get_task_output("runner_mapped_output", "r1", "shout") == ["A", "B", "C"]


def test_an_empty_mapping_skips_the_task_and_what_follows_and_the_run_succeeds(
    make_run: Callable[..., Run],
) -> None:
    run = make_run(
        """
        @task
        def nothing():
            return []

        @task
        def each(item):
            print("each ran")

        @task
        def after():
            print("after ran")

        each.expand(item=nothing()) >> after()
        """,
        "runner_empty_mapping",
    )
    result = run.run()
    assert result.succeeded and result.state == "success", run.buffer.getvalue()
    assert _states(result) == {
        "nothing": ("success", 1),
        "each": ("skipped", 0),
        "after": ("skipped", 0),
    }
    assert run.lines("each") == ["[runner] skipped: it maps over an empty list"]
    assert run.lines("after") == ["[runner] skipped: an upstream task was skipped"]


@pytest.mark.parametrize(
    ("returned", "max_map_length", "message"),
    [
        (
            '{"tables": ["a"]}',
            1024,
            "each.expand(item=...) maps over the output of items(), which is dict, not a list",
        ),
        # The runner allows more than the API server (1024): the server refuses the count.
        (
            "list(range(1025))",
            2048,
            "cannot expand task instance {each_id!r} into 1025 task instances: more than "
            "[workers] max_map_length = 1024",
        ),
    ],
    ids=["not_a_list", "over_the_servers_limit"],
)
def test_a_mapping_that_cannot_be_made_fails_the_mapped_task_without_a_try(
    make_run: Callable[..., Run], returned: str, max_map_length: int, message: str
) -> None:
    run = make_run(
        f"""
        @task
        def items():
            return {returned}

        @task
        def each(item):
            print("each ran")

        @task
        def after():
            print("after ran")

        each.expand(item=items()) >> after()
        """,
        f"runner_unmappable_{max_map_length}",
        max_map_length=max_map_length,
    )
    result = run.run()
    assert result.state == "failed"
    assert _states(result) == {
        "items": ("success", 1),
        "each": ("failed", 0),
        "after": ("upstream_failed", 0),
    }
    each_id = result.task_instances[1]["id"]
    assert run.lines("each") == [
        "[runner] failed: UnmappableOutputError: " + message.format(each_id=each_id)
    ]
