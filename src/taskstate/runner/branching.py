"""What a branch or short-circuit instance skips, once it has succeeded.

The instance decided in its task process and left the decision as its XCom ``skipmixin_key``
(see :mod:`taskstate.sdk.operators.branch`): ``{"skipped": [...]}``, the tasks it skips, or
``{"followed": [...]}``, the direct downstream tasks it follows (every other direct downstream
task is skipped). Its output stays what Airflow stores (nothing, when it skipped tasks). The
runner reads the decision through the public API and asks the scheduler to skip those tasks'
instances that are still scheduled (:meth:`Scheduler.skip_downstream`); it skips only tasks
downstream of the instance.
"""

from __future__ import annotations

from typing import Any

from taskstate.client.public import PublicClient
from taskstate.runner.instances import TiKey, label
from taskstate.runner.output import RunOutput
from taskstate.runner.passes import Scheduler
from taskstate.sdk.operators.branch import FOLLOWED, SKIP_XCOM_KEY, SKIPPED, skips_downstream

__all__ = ["downstream_to_skip"]


def _skipped(decision: Any, downstream: set[str]) -> set[str]:
    """The task ids ``decision`` skips, given the instance's direct ``downstream`` tasks."""
    if isinstance(decision, dict):
        for name, skipped in ((SKIPPED, True), (FOLLOWED, False)):
            ids = decision.get(name)
            if isinstance(ids, list) and all(isinstance(i, str) for i in ids):
                return set(ids) if skipped else downstream - set(ids)
    raise ValueError(f"not a skip decision: {decision!r}")


def downstream_to_skip(
    client: PublicClient,
    output: RunOutput,
    task: Any,
    key: TiKey,
    ti_id: str,
    scheduler: Scheduler,
) -> set[str]:
    """The tasks the succeeded instance ``key`` (``ti_id``) of ``task`` skips (empty if it
    skips none)."""
    node = scheduler.graph[task.task_id]
    # Nothing to read when nothing below could still be skipped.
    if not skips_downstream(task) or not scheduler.undecided(node.descendants):
        return set()
    found = [x["value"] for x in client.list_xcoms(ti_id) if x["key"] == SKIP_XCOM_KEY]
    if not found:
        return set()
    try:
        chosen = _skipped(found[0], set(node.downstream))
    except ValueError as exc:
        output.line(label(*key), f"[runner] cannot apply the branch: {exc}")
        return set()
    return chosen & node.descendants
