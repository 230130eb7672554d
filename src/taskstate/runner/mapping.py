"""Expanding a task mapped over upstream outputs, once those upstream tasks have succeeded.

The runner reads the outputs through the public API, counts the instances with the task's own
rule (:meth:`taskstate.sdk.node.AbstractOperator.map_count`: the cross product of every
expanded argument),
and asks the server to replace the placeholder instance with that many. A mapping that cannot
be made (an output that is not a list, or more instances than ``[workers] max_map_length``,
by the runner's count or the server's) fails the task without a try; an empty one skips it.
A task mapped over literal lists longer than the limit is registered with a placeholder too,
so that it fails here, in the same way.
"""

from __future__ import annotations

from typing import Any

from taskstate.client.public import PublicClient
from taskstate.errors import InvalidValueError
from taskstate.runner.output import RunOutput
from taskstate.sdk.node import AbstractOperator as Task

__all__ = ["expand"]


def expand(
    client: PublicClient,
    output: RunOutput,
    run_id: str,
    task: Task,
    placeholder_id: str,
    *,
    max_map_length: int,
) -> list[dict[str, Any]]:
    """Expand ``task`` in ``run_id``; return its task instances as the server now has them."""
    dag_id = task.dag.dag_id
    outputs = {
        task_id: client.get_task_output(dag_id, run_id, task_id)
        for task_id in sorted(task.mapped_output_task_ids)
    }
    try:
        count = task.map_count(outputs, max_length=max_map_length)
        expanded: list[dict[str, Any]] = client.expand_task_instance(placeholder_id, count)
    except InvalidValueError as exc:
        output.line(task.task_id, f"[runner] failed: {type(exc).__name__}: {exc}")
        return [client.fail_task_instance(placeholder_id)]
    if count == 0:
        output.line(task.task_id, "[runner] skipped: it maps over an empty list")
    else:
        output.line(task.task_id, f"[runner] mapped into {count} task instances")
    return expanded
