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
import typing
from collections.abc import Callable, Mapping
from typing import Any

from taskstate.errors import DagDefinitionError, UsageError
from taskstate.sdk.asset import Metadata
from taskstate.sdk.context import KNOWN_CONTEXT_KEYS

__all__ = [
    "call_with_context",
    "check_call",
    "determine_kwargs",
    "infer_multiple_outputs",
    "is_async_callable",
]


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


_BY_NAME = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def _positional_names(parameters: Mapping[str, inspect.Parameter], count: int) -> set[str]:
    """The parameters that ``count`` positional arguments fill (none past ``*args``)."""
    names: list[str] = []
    for parameter in parameters.values():
        if parameter.kind is inspect.Parameter.VAR_POSITIONAL:
            break
        if parameter.kind in (parameter.POSITIONAL_ONLY, parameter.POSITIONAL_OR_KEYWORD):
            names.append(parameter.name)
    return set(names[:count])


def determine_kwargs(
    function: Callable[..., Any], args: tuple[Any, ...] | list[Any], kwargs: Mapping[str, Any]
) -> dict[str, Any]:
    """The keyword arguments of ``kwargs`` (the context with the call's own keyword arguments
    over it) that ``function`` takes, leaving out those its positional ``args`` fill.

    A function with ``**kwargs`` takes them all; otherwise a parameter named like a key takes
    it, with or without a default (``ti=None``), also after ``*args``, but never a
    positional-only one."""
    parameters = inspect.signature(function).parameters
    filled = _positional_names(parameters, len(args))
    takes_all = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())
    taken: dict[str, Any] = {}
    for name, value in kwargs.items():
        if name in filled:
            continue
        parameter = parameters.get(name)
        if takes_all or (parameter is not None and parameter.kind in _BY_NAME):
            taken[name] = value
    return taken


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


def infer_multiple_outputs(function: Callable[..., Any]) -> bool:
    """Whether the function's return annotation is a mapping (``dict[str, int]``, a
    TypedDict), as Airflow infers ``multiple_outputs``."""
    annotation = getattr(function, "__annotations__", {}).get("return")
    if annotation is None:
        return False

    def fake() -> None: ...

    fake.__annotations__ = {"return": annotation}
    try:
        hint = typing.get_type_hints(fake, getattr(function, "__globals__", {})).get("return")
    except Exception:
        return False
    origin = typing.get_origin(hint) or hint
    return isinstance(origin, type) and issubclass(origin, Mapping)


def check_call(
    function: Callable[..., Any],
    name: str,
    args: tuple[Any, ...],
    kwargs: Mapping[str, Any],
    *,
    complete: bool,
) -> None:
    """Refuse a call the function cannot take (too many or unknown arguments; with
    ``complete``, missing ones). Parameters named like context keys are filled at run time."""
    parameters = list(inspect.signature(function).parameters.values())
    for p in parameters:
        if p.name in KNOWN_CONTEXT_KEYS and p.default not in (None, inspect.Parameter.empty):
            raise DagDefinitionError(
                f"{name}(): the context key parameter {p.name!r} can't have a default "
                "other than None"
            )
    kinds = inspect.Parameter
    positional_kinds = (kinds.POSITIONAL_ONLY, kinds.POSITIONAL_OR_KEYWORD)
    positional = [p for p in parameters if p.kind in positional_kinds]
    takes_varargs = any(p.kind is kinds.VAR_POSITIONAL for p in parameters)
    takes_kwargs = any(p.kind is kinds.VAR_KEYWORD for p in parameters)
    if len(args) > len(positional) and not takes_varargs:
        raise DagDefinitionError(
            f"{name}() takes {len(positional)} positional argument(s) but {len(args)} were given"
        )
    bound = {p.name for p in positional[: len(args)]}
    by_name = {p.name: p for p in parameters}
    for key in kwargs:
        if key in bound:
            raise DagDefinitionError(f"{name}() got multiple values for argument {key!r}")
        if key not in by_name and not takes_kwargs:
            raise DagDefinitionError(f"{name}() got an unexpected keyword argument {key!r}")
        if key in by_name and by_name[key].kind is kinds.POSITIONAL_ONLY:
            raise DagDefinitionError(f"{name}(): {key!r} is positional-only")
    if not complete:
        return
    missing = [
        p.name
        for p in parameters
        if p.default is kinds.empty
        and p.kind not in (kinds.VAR_POSITIONAL, kinds.VAR_KEYWORD)
        and p.name not in KNOWN_CONTEXT_KEYS
        and p.name not in bound
        and p.name not in kwargs
    ]
    if missing:
        raise DagDefinitionError(f"{name}() missing required argument(s): {', '.join(missing)}")
