"""``@dag``: a function that builds a DAG each time it is called.

``@dag(schedule=..., start_date=...)`` on a function returns a factory; calling it (once, at
the bottom of the DAG file) makes a DAG (its id is the function's name unless given), runs the
function inside it, and returns the DAG. The function's parameters become the DAG's ``params``
(their defaults, or the call's arguments, are the values); inside the function each parameter
is a :class:`DagParam`, which a task given it receives as the run's value of that param (its
``--conf`` override, if any).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import Any

from taskstate.errors import DagDefinitionError
from taskstate.sdk.dag import DAG

__all__ = ["DagParam", "dag", "dag_param", "resolve_dag_params"]


class DagParam:
    """The DAG param ``name``: in a task's arguments, the run's value of it."""

    def __init__(self, dag: DAG, name: str) -> None:
        self.dag = dag
        self.name = name

    def __repr__(self) -> str:
        return f"<DagParam {self.name!r} of DAG {self.dag.dag_id!r}>"

    def resolve(self, params: Mapping[str, Any]) -> Any:
        """The value in the run's ``params`` (else the DAG's default)."""
        value = params[self.name] if self.name in params else self.dag.params.get(self.name)
        # A ``Param`` object holds its value in ``.value``.
        return getattr(value, "value", value)


def dag_param(dag: DAG, name: str, default: Any) -> DagParam:
    """Declare the param ``name`` of ``dag`` with ``default`` (kept if the DAG already has it
    as a ``Param``) and return a reference to it."""
    existing = dag.params.get(name)
    if existing is None or not hasattr(existing, "value"):
        dag.params[name] = default
    return DagParam(dag, name)


def _contains_param(value: Any) -> bool:
    if isinstance(value, DagParam):
        return True
    if type(value) in (list, tuple):
        return any(_contains_param(v) for v in value)
    if type(value) is dict:
        return any(_contains_param(v) for v in value.values())
    return False


def _resolve(value: Any, params: Mapping[str, Any]) -> Any:
    if isinstance(value, DagParam):
        return value.resolve(params)
    if type(value) in (list, tuple):
        return type(value)(_resolve(v, params) for v in value)
    if type(value) is dict:
        return {k: _resolve(v, params) for k, v in value.items()}
    return value


def resolve_dag_params(operator: Any, context: Mapping[str, Any]) -> None:
    """Replace every :class:`DagParam` in the operator's arguments by the run's value
    (``context["params"]``; the DAG's defaults when the context has none)."""
    params = context.get("params")
    if not isinstance(params, Mapping):
        params = {}
    for name, value in list(vars(operator).items()):
        if _contains_param(value):
            object.__setattr__(operator, name, _resolve(value, params))


def dag(dag_id: Any = None, /, **dag_kwargs: Any) -> Any:
    """Decorate a function that builds a DAG: ``@dag`` or ``@dag(schedule=..., ...)``."""

    def wrapper(function: Callable[..., Any]) -> Callable[..., DAG]:
        kwargs = dict(dag_kwargs)
        the_id = kwargs.pop("dag_id", None)
        if the_id is None:
            the_id = dag_id if isinstance(dag_id, str) and dag_id.strip() else function.__name__

        @functools.wraps(function)
        def factory(*args: Any, **call_kwargs: Any) -> DAG:
            try:
                bound = inspect.signature(function).bind(*args, **call_kwargs)
            except TypeError as exc:
                raise DagDefinitionError(f"@dag {the_id!r}: {exc}") from exc
            bound.apply_defaults()
            with DAG(the_id, **kwargs) as made:
                if function.__doc__ and not made.doc_md:
                    made.doc_md = function.__doc__
                params = {n: dag_param(made, n, v) for n, v in bound.arguments.items()}
                result = function(**params)
                if getattr(result, "passes_output", False):
                    result.returns_dag_result = True
            return made

        return factory

    if callable(dag_id) and not isinstance(dag_id, str):
        return wrapper(dag_id)
    return wrapper
