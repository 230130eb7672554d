"""What a branch or short-circuit instance skips, once it has succeeded.

The operator says it: ``downstream_to_skip(output)`` returns the task ids to skip given the
instance's output (its return value), or None for an operator that does not branch (see
the sdk). The runner reads the output through the public API and asks the scheduler to skip
those tasks' instances that are still scheduled (:meth:`Scheduler.skip_downstream`).

Which tasks those are is the operator's rule, not the runner's: a branch skips the direct
downstream tasks it does not follow (but not one that is also downstream of a followed task,
the "join" a branch goes straight to), a short-circuit skips all its downstream tasks but
teardowns, or only the direct ones (``ignore_downstream_trigger_rules=False``). The runner
skips only tasks downstream of the instance.
"""

from __future__ import annotations

from typing import Any

from taskstate.client.public import PublicClient
from taskstate.runner.instances import TiKey, label
from taskstate.runner.output import RunOutput
from taskstate.runner.passes import Scheduler

__all__ = ["downstream_to_skip"]


def downstream_to_skip(
    client: PublicClient,
    output: RunOutput,
    run_id: str,
    task: Any,
    key: TiKey,
    scheduler: Scheduler,
) -> set[str]:
    """The tasks the succeeded instance ``key`` of ``task`` skips (empty if it skips none)."""
    choose = getattr(task, "downstream_to_skip", None)
    node = scheduler.graph[task.task_id]
    # Nothing to read when nothing below could still be skipped.
    if choose is None or not scheduler.undecided(node.descendants):
        return set()
    value = client.get_task_output(task.dag.dag_id, run_id, task.task_id)
    if key[1] >= 0:
        value = value[key[1]] if isinstance(value, list) and key[1] < len(value) else None
    try:
        chosen = choose(value)
    except Exception as exc:  # the operator's own code: report it, skip nothing
        output.line(label(*key), f"[runner] cannot apply the branch: {type(exc).__name__}: {exc}")
        return set()
    return set(chosen or ()) & node.descendants
