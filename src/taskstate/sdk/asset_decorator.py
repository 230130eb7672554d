"""``@asset``: an asset defined by the function that materializes it.

``@asset(schedule=...)`` on a function makes, as Airflow 3 does, an :class:`AssetDefinition`
(an ``Asset`` named after the function, unless ``name=``/``uri=`` say otherwise) and a DAG of
the same id with one task, named after the function, whose outlet is the asset. The function's
parameters without defaults are filled when it runs: ``self`` is the asset, ``context`` the
context, ``outlet_events`` the context's outlet events, and any other name an inlet asset of
that name (the ``Asset`` of that name the DAG file defines, if any). ``@asset.multi(outlets=
[...])`` makes one task with several outlet assets.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Collection, Mapping
from typing import Any

from taskstate.errors import DagDefinitionError
from taskstate.sdk.asset import Asset, AssetAll, BaseAsset
from taskstate.sdk.dag import DAG
from taskstate.sdk.operators.python import PythonOperator

__all__ = ["AssetDefinition", "MultiAssetDefinition", "asset"]

_SPECIAL = ("self", "context", "outlet_events")


def _check_function(function: Callable[..., Any]) -> None:
    if function.__name__ != function.__qualname__:
        raise DagDefinitionError(f"@asset: nested function {function.__qualname__} not supported")
    for name, p in inspect.signature(function).parameters.items():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            raise DagDefinitionError(f"@asset {function.__name__}: wildcard {name!r} not supported")
        if p.kind is p.POSITIONAL_ONLY and p.default is p.empty:
            raise DagDefinitionError(
                f"@asset {function.__name__}: positional-only {name!r} without a default"
            )


def _inlets(function: Callable[..., Any]) -> dict[str, Asset]:
    """The inlet assets: a parameter without a default names one."""
    found: dict[str, Asset] = {}
    namespace = getattr(function, "__globals__", {})
    for name, p in inspect.signature(function).parameters.items():
        if name in _SPECIAL or p.default is not p.empty:
            continue
        known = namespace.get(name)
        found[name] = known if isinstance(known, Asset) and known.name == name else Asset(name)
    return found


class _AssetMainOperator(PythonOperator):
    """The task of an ``@asset`` DAG: calls the function with the assets it names."""

    def __init__(self, *, definition: Asset, asset_inlets: dict[str, Asset], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.definition = definition
        self.asset_inlets = asset_inlets

    def determine_kwargs(self, context: Mapping[str, Any]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for name, p in inspect.signature(self.python_callable).parameters.items():
            if p.default is not p.empty:
                values[name] = p.default
            elif name == "self":
                values[name] = self.definition
            elif name == "context":
                values[name] = context
            elif name == "outlet_events":
                values[name] = context.get("outlet_events")
            else:
                values[name] = self.asset_inlets[name]
        return values


class _DagFactory:
    """The DAG arguments ``@asset`` and ``@asset.multi`` take."""

    def __init__(
        self,
        *,
        schedule: Any,
        dag_id: str | None = None,
        dag_display_name: str | None = None,
        description: str | None = None,
        params: Mapping[str, Any] | None = None,
        tags: Collection[str] = (),
        **dag_kwargs: Any,
    ) -> None:
        self.schedule = schedule
        self.dag_id = dag_id
        self.dag_display_name = dag_display_name
        self.description = description
        self.params = params
        self.tags = list(tags)
        self.dag_kwargs = dag_kwargs

    def _make_dag(self, default_id: str) -> DAG:
        dag_id = self.dag_id or default_id
        return DAG(
            dag_id,
            schedule=self.schedule,
            catchup=False,
            dag_display_name=self.dag_display_name or dag_id,
            description=self.description,
            params=self.params,
            tags=self.tags,
            **self.dag_kwargs,
        )

    def _add_task(self, function: Any, definition: Asset, outlets: list[BaseAsset]) -> None:
        decorator_kwargs = getattr(function, "kwargs", None)
        if isinstance(decorator_kwargs, dict) and hasattr(function, "operator_class"):
            # ``@asset(...)`` over ``@task(...)``: the task function itself, with the outlets.
            if "outlets" in decorator_kwargs:
                raise DagDefinitionError("@asset over @task with 'outlets' is not supported")
            function.override(outlets=outlets)()
            return
        _check_function(function)
        _AssetMainOperator(
            task_id=function.__name__,
            python_callable=function,
            definition=definition,
            asset_inlets=_inlets(function),
            inlets=list(_inlets(function).values()),
            outlets=outlets,
        )


class AssetDefinition(Asset):
    """The asset an ``@asset`` function materializes (an ``Asset``), with its DAG."""

    __slots__ = ("dag", "function")

    dag: DAG
    function: Callable[..., Any]


class MultiAssetDefinition(AssetAll):
    """The assets an ``@asset.multi`` function materializes (all of them), with its DAG."""

    __slots__ = ("dag", "function", "name")


class asset(_DagFactory):
    """``@asset(schedule=..., name=..., uri=..., group=..., extra=...)``."""

    def __init__(
        self,
        *,
        schedule: Any,
        name: str | None = None,
        uri: str | None = None,
        group: str = "asset",
        extra: dict[str, Any] | None = None,
        watchers: list[Any] | None = None,
        **dag_kwargs: Any,
    ) -> None:
        super().__init__(schedule=schedule, **dag_kwargs)
        self.name = name
        self.uri = uri
        self.group = group
        self.extra = dict(extra or {})
        self.watchers = tuple(watchers or ())

    def __call__(self, function: Callable[..., Any]) -> AssetDefinition:
        fn = getattr(function, "function", function)
        if fn.__name__ != fn.__qualname__:
            raise DagDefinitionError(f"@asset: nested function {fn.__qualname__} not supported")
        name = self.name or fn.__name__
        definition = AssetDefinition(
            name=name,
            uri=name if self.uri is None else str(self.uri),
            group=self.group,
            extra=self.extra,
            watchers=self.watchers,
        )
        object.__setattr__(definition, "function", fn)
        with self._make_dag(name) as made:
            self._add_task(function, definition, [definition])
        object.__setattr__(definition, "dag", made)
        return definition

    class multi(_DagFactory):
        """``@asset.multi(schedule=..., outlets=[...])``: one task, several outlet assets."""

        def __init__(self, *, outlets: Collection[BaseAsset], **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.outlets = list(outlets)

        def __call__(self, function: Callable[..., Any]) -> MultiAssetDefinition:
            fn = getattr(function, "function", function)
            if not self.outlets:
                raise DagDefinitionError(f"@asset.multi {fn.__name__}: no outlets given")
            definition = MultiAssetDefinition(*self.outlets)
            object.__setattr__(definition, "name", fn.__name__)
            object.__setattr__(definition, "function", fn)
            first = next((o for o in self.outlets if isinstance(o, Asset)), Asset(fn.__name__))
            with self._make_dag(fn.__name__) as made:
                self._add_task(function, first, self.outlets)
            object.__setattr__(definition, "dag", made)
            return definition
