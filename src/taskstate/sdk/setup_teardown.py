"""``with teardown_task:`` and ``with setup_task:``: tasks made inside run between setup and
teardown.

Entering a teardown task opens a block whose setups are the setup tasks directly upstream of it
(``with setup() >> teardown():`` enters the teardown); entering a setup task opens one whose
teardowns are the teardown tasks directly downstream of it. When the block ends, the tasks
created in it (setup and teardown tasks aside) are placed between the two: the setups run before
those with no upstream (or the first one), the teardowns after those with no downstream (or the
last one). Blocks of the same kind nest: the outer setups run before the inner ones, the inner
teardowns before the outer ones. As in Airflow, closing an inner block stops the recording of
new tasks until another block opens: tasks made after it in the outer block are not placed.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from taskstate.errors import DagDefinitionError

if TYPE_CHECKING:
    from taskstate.sdk.node import AbstractOperator

__all__ = ["enter", "exit", "record"]


@dataclass
class _Block:
    is_setup: bool  # entered on setup tasks (else on teardown tasks)
    setups: list[AbstractOperator]
    teardowns: list[AbstractOperator]
    tasks: list[AbstractOperator] = field(default_factory=list)


# The open blocks, innermost last, and whether new tasks are recorded in them.
_blocks: ContextVar[tuple[_Block, ...]] = ContextVar("taskstate_setup_teardown", default=())
_recording: ContextVar[bool] = ContextVar("taskstate_setup_teardown_recording", default=False)


def enter(operators: list[AbstractOperator]) -> None:
    """Open a block on ``operators`` (all setup tasks, or all teardown tasks)."""
    if not all(op.is_setup or op.is_teardown for op in operators):
        raise DagDefinitionError(
            "only setup and teardown tasks can be used as context managers; "
            f"{[op.task_id for op in operators]} are not"
        )
    is_setup = operators[0].is_setup
    if any(op.is_setup != is_setup for op in operators):
        raise DagDefinitionError("a block is entered on setup tasks or on teardown tasks, not both")
    tasks = operators[0].dag.tasks
    if is_setup:
        teardowns = [tasks[t] for op in operators for t in sorted(op.downstream_task_ids)]
        block = _Block(True, list(operators), [t for t in teardowns if t.is_teardown])
    else:
        setups = [tasks[t] for op in operators for t in sorted(op.upstream_task_ids)]
        block = _Block(False, [s for s in setups if s.is_setup], list(operators))
    _blocks.set((*_blocks.get(), block))
    _recording.set(True)


def record(operator: AbstractOperator) -> None:
    """Note ``operator``, just created, in the innermost open block of each kind."""
    if not _recording.get():
        return
    seen: set[bool] = set()
    for block in reversed(_blocks.get()):
        if block.is_setup not in seen:
            seen.add(block.is_setup)
            block.tasks.append(operator)


def exit() -> None:
    """Close the innermost block, placing its tasks between its setups and teardowns."""
    *outer, block = _blocks.get()
    _blocks.set(tuple(outer))
    _recording.set(False)
    work = [t for t in block.tasks if not t.is_setup and not t.is_teardown]
    if work:
        roots = [t for t in work if not t.upstream_task_ids] or [work[0]]
        leaves = [t for t in work if not t.downstream_task_ids] or [work[-1]]
        for setup in block.setups:
            for root in roots:
                setup.add_downstream(root)
        for teardown in block.teardowns:
            for leaf in leaves:
                leaf.add_downstream(teardown)
    same_kind = [b for b in outer if b.is_setup == block.is_setup]
    if same_kind:
        parent = same_kind[-1]
        for outer_setup in parent.setups:
            for inner_setup in block.setups:
                if inner_setup is not outer_setup:
                    outer_setup.add_downstream(inner_setup)
        for inner_teardown in block.teardowns:
            for outer_teardown in parent.teardowns:
                if inner_teardown is not outer_teardown:
                    inner_teardown.add_downstream(outer_teardown)
