"""Calling a task's Python function: its arguments, the context keys it asks for, and what it
yields.

A function with ``**kwargs`` receives the whole context (and its keyword arguments over it);
otherwise each parameter named like a context key (``ti``, ``params``, ``task_state``, ...)
receives that entry. An ``async def`` function runs in its own event loop. A generator
function's ``yield Metadata(asset, extra)`` attaches ``extra`` to the event of ``asset`` the
try records (through ``context["outlet_events"]``); its ``return`` value is the task's output.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable, Mapping
from typing import Any

from taskstate.errors import UsageError
from taskstate.sdk.asset import Metadata

__all__ = ["call_with_context", "determine_kwargs", "is_async_callable"]


def _unwrap(function: Callable[..., Any]) -> Callable[..., Any]:
    try:
        unwrapped: Callable[..., Any] = inspect.unwrap(function)
        return unwrapped
    except ValueError:
        return function


def is_async_callable(function: Callable[..., Any]) -> bool:
    """Whether calling ``function`` returns a coroutine."""
    target = _unwrap(function)
    if inspect.iscoroutinefunction(target):
        return True
    call = getattr(type(target), "__call__", None)  # noqa: B004
    return not inspect.isfunction(target) and inspect.iscoroutinefunction(call)


def determine_kwargs(
    function: Callable[..., Any], args: tuple[Any, ...] | list[Any], kwargs: Mapping[str, Any]
) -> dict[str, Any]:
    """The keyword arguments of ``kwargs`` (the context with the call's own keyword arguments
    over it) that ``function`` takes, leaving out those its positional ``args`` fill."""
    parameters = inspect.signature(function).parameters
    positional = set(list(parameters)[: len(args)])
    takes_all = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    return {
        name: value
        for name, value in kwargs.items()
        if name not in positional and (takes_all or name in parameters)
    }


def call_with_context(
    function: Callable[..., Any],
    args: tuple[Any, ...] | list[Any],
    kwargs: Mapping[str, Any],
    context: Mapping[str, Any],
    log: logging.Logger,
) -> Any:
    """Call ``function(*args, **kwargs)`` with ``kwargs`` already determined; run coroutines
    and drain generators (see the module docstring)."""
    if is_async_callable(function):
        return asyncio.run(function(*args, **kwargs))
    if not inspect.isgeneratorfunction(_unwrap(function)):
        return function(*args, **kwargs)
    generator = function(*args, **kwargs)
    while True:
        try:
            item = next(generator)
        except StopIteration as stop:
            return stop.value
        if isinstance(item, Metadata):
            _record_metadata(item, context)
        else:
            log.warning("Ignoring unknown data of %r received from task", type(item))


def _record_metadata(metadata: Metadata, context: Mapping[str, Any]) -> None:
    events = context.get("outlet_events")
    if events is None:
        raise UsageError(
            "the task yielded Metadata, but its context has no outlet_events to record it in"
        )
    events[metadata.asset].extra.update(metadata.extra)
    if metadata.alias is not None:
        events[metadata.alias].add(metadata.asset, extra=metadata.extra)
