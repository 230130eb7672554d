"""``Context``, the mapping a task receives, and ``get_current_context()``.

The task process (:mod:`taskstate.runtime.main`) builds the context and runs the operator inside
:func:`running_task`, which makes the context reachable from anywhere in the task's code through
:func:`get_current_context`, as Airflow's is. The SDK only declares the keys; the runtime fills
them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, TypedDict

from taskstate.errors import UsageError

__all__ = [
    "KNOWN_CONTEXT_KEYS",
    "Context",
    "Renderer",
    "get_current_context",
    "render_again",
    "running_task",
    "task_is_running",
]


class Context(TypedDict, total=False):
    """The keys a task's context may hold (Airflow's, and taskstate's state accessors)."""

    asset_state: Any
    asset_state_store: Any
    conn: Any
    dag: Any
    dag_run: Any
    data_interval_end: Any
    data_interval_start: Any
    ds: str
    ds_nodash: str
    expanded_ti_count: Any
    inlet_events: Any
    inlets: list[Any]
    logical_date: Any
    macros: Any
    map_index: int
    outlet_events: Any
    outlets: list[Any]
    params: dict[str, Any]
    run_id: str
    task: Any
    task_instance: Any
    task_instance_key_str: str
    task_state: Any
    task_state_store: Any
    templates_dict: Any
    test_mode: bool
    ti: Any
    triggering_asset_events: Any
    try_number: int
    ts: str
    ts_nodash: str
    ts_nodash_with_tz: str
    var: Any


# Parameter names a TaskFlow function receives from the context rather than from its caller.
KNOWN_CONTEXT_KEYS: frozenset[str] = frozenset(Context.__annotations__)

# Renders an operator's templated fields with a context (the runtime's ``render_template_fields``).
Renderer = Callable[[Any, Mapping[str, Any]], None]

_current: ContextVar[tuple[Mapping[str, Any], Renderer | None] | None] = ContextVar(
    "taskstate_current_task_context", default=None
)


@contextmanager
def running_task(context: Mapping[str, Any], renderer: Renderer | None = None) -> Iterator[None]:
    """Make ``context`` the current one while the block runs (the task process runs the
    operator inside it); ``renderer`` renders templated fields again when an operator asks
    (``@task.bash`` renders the command its function returns)."""
    token = _current.set((context, renderer))
    try:
        yield
    finally:
        _current.reset(token)


def task_is_running() -> bool:
    """Whether a task is running in this process (inside :func:`running_task`)."""
    return _current.get() is not None


def get_current_context() -> Context:
    """The context of the task running in this process, from anywhere in its code."""
    current = _current.get()
    if current is None:
        raise UsageError(
            "get_current_context() was called outside a running task: the context exists "
            "only while a task runs (call it from inside the task's function)"
        )
    context = current[0]
    return context  # type: ignore[return-value]


def render_again(operator: Any, context: Mapping[str, Any]) -> None:
    """Render ``operator``'s templated fields with the running task's renderer, if any."""
    current = _current.get()
    if current is not None and current[1] is not None:
        current[1](operator, context)
