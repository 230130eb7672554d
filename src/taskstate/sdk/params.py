"""``Param`` and ``ParamsDict``: the parameters of a DAG run, each checked by a JSON Schema.

A DAG declares its params as plain values or :class:`Param` objects
(``DAG(params={"n": Param(1, type="integer", minimum=0), "label": "x"})``); a task may add or
replace some (``params=`` on the task). When a run starts, the run's conf (``dags test --conf``)
overrides them, as Airflow does with its default ``[core] dag_run_conf_overrides_params``:

1. the DAG's params;
2. then the task's, each replacing the DAG's of the same name, schema included;
3. then the conf's values, each checked against the schema of the param it sets (a conf key
   that names no param becomes a param of its own, with no schema).

Every value is then checked against its schema with the ``jsonschema`` library (formats
included). A value the schema refuses, or a param left without a value, is a
:class:`~taskstate.errors.ParamValidationError` naming the param and what the schema says.
"""

from __future__ import annotations

import copy
import json
from collections.abc import ItemsView, Iterator, Mapping, MutableMapping, ValuesView
from typing import Any, Final

from taskstate.errors import DagDefinitionError, ParamValidationError

__all__ = ["NOTSET", "Param", "ParamsDict", "dag_params", "resolve_params"]


class _NotSet:
    """The default of a param that has none; such a param needs a value from the run's conf."""

    def __repr__(self) -> str:
        return "NOTSET"

    def __copy__(self) -> _NotSet:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> _NotSet:
        return self


NOTSET: Final = _NotSet()


def _check_json(value: Any, name: str | None) -> None:
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        label = f"param {name!r}" if name else "a param"
        raise ParamValidationError(
            f"{label}: {value!r} is not a JSON value ({exc}); params must be JSON documents",
            detail={"param": name},
        ) from exc


def _check_schema(schema: dict[str, Any]) -> None:
    import jsonschema

    try:
        jsonschema.validators.validator_for(schema).check_schema(schema)
    except jsonschema.SchemaError as exc:
        raise DagDefinitionError(
            f"Param schema {schema!r} is not a valid JSON Schema: {exc.message}",
            detail={"schema": schema},
        ) from exc


class Param:
    """A param's default and the JSON Schema its value must satisfy.

    ``Param(5, type="integer", minimum=1)``: the keyword arguments other than ``default`` and
    ``description`` form the schema (or pass it whole as ``schema={...}``). Without a default,
    the run's conf must give the param a value.
    """

    def __init__(
        self, default: Any = NOTSET, description: str | None = None, **schema: Any
    ) -> None:
        if default is not NOTSET:
            _check_json(default, None)
        whole = schema.pop("schema", None)
        if whole is not None and schema:
            raise DagDefinitionError(
                "Param takes its schema either as schema={...} or as keyword arguments, not both"
            )
        self.value = default
        self.description = description
        self.schema: dict[str, Any] = dict(whole if whole is not None else schema)
        if self.schema:
            _check_schema(self.schema)

    def __repr__(self) -> str:
        return f"Param({self.value!r}, schema={self.schema!r})"

    def __copy__(self) -> Param:
        return self.with_value(self.value)

    def with_value(self, value: Any) -> Param:
        """A copy of this param holding ``value`` instead of its default."""
        param = copy.deepcopy(self)
        param.value = value
        return param

    @property
    def has_value(self) -> bool:
        """Whether the param has a value (None does not count, as in Airflow)."""
        return self.value is not NOTSET and self.value is not None

    def resolve(self, value: Any = NOTSET, *, name: str | None = None) -> Any:
        """``value`` (default: the param's own) once the schema accepts it.

        ``name`` only labels the error: ParamValidationError when there is no value or the
        schema refuses it.
        """
        final = self.value if value is NOTSET else value
        label = f"param {name!r}" if name else "a param"
        if final is NOTSET:
            raise ParamValidationError(
                f"{label} has no value: it has no default and the run's conf does not set it",
                detail={"param": name, "schema": self.schema},
            )
        _check_json(final, name)
        if not self.schema:
            return final  # the empty schema accepts every value: no need to load jsonschema
        import jsonschema  # here, not at the top: it costs ~0.1 s, and most params have no schema

        try:
            jsonschema.validate(final, self.schema, format_checker=jsonschema.FormatChecker())
        except jsonschema.ValidationError as exc:
            where = exc.json_path if exc.json_path != "$" else ""
            raise ParamValidationError(
                f"{label}{' at ' + where if where else ''}: {exc.message} "
                f"(the schema's {exc.validator!r} rule; schema: {json.dumps(self.schema)})",
                detail={
                    "param": name,
                    "value": final,
                    "schema": self.schema,
                    "rule": exc.validator,
                    "reason": exc.message,
                },
            ) from None
        return final


class ParamsDict(MutableMapping[str, Any]):
    """Params by name: reading one gives its checked value, setting a plain value checks it
    against the schema of the param it replaces, setting a :class:`Param` replaces the param.

    As in Airflow, ``items()`` and ``values()`` give the :class:`Param` objects themselves.
    """

    def __init__(self, params: Mapping[str, Any] | None = None) -> None:
        self._params: dict[str, Param] = {}
        if isinstance(params, ParamsDict):
            self._params = {name: copy.copy(p) for name, p in params.items()}
        else:
            for name, value in (params or {}).items():
                self._params[name] = copy.copy(value) if isinstance(value, Param) else Param(value)

    def __repr__(self) -> str:
        return f"ParamsDict({self._params!r})"

    def __len__(self) -> int:
        return len(self._params)

    def __iter__(self) -> Iterator[str]:
        return iter(self._params)

    def __contains__(self, name: object) -> bool:
        return name in self._params

    def __getitem__(self, name: str) -> Any:
        return self._params[name].resolve(name=name)

    def __setitem__(self, name: str, value: Any) -> None:
        if isinstance(value, Param):
            self._params[name] = value
        elif name in self._params:
            param = self._params[name]
            param.resolve(value, name=name)
            self._params[name] = param.with_value(value)
        else:
            _check_json(value, name)
            self._params[name] = Param(value)

    def __delitem__(self, name: str) -> None:
        del self._params[name]

    def get_param(self, name: str) -> Param:
        """The :class:`Param` object of ``name``."""
        return self._params[name]

    def items(self) -> ItemsView[str, Param]:
        return self._params.items()

    def values(self) -> ValuesView[Param]:
        return self._params.values()

    def update(self, other: Any = (), /, **kwargs: Any) -> None:
        """Set each entry as ``params[name] = value`` does; the params of another ParamsDict
        replace these whole."""
        if isinstance(other, ParamsDict):
            self._params.update({name: copy.copy(p) for name, p in other.items()})
            other = ()
        super().update(other, **kwargs)

    def validate(self) -> dict[str, Any]:
        """Every param's checked value, by name; ParamValidationError at the first refused."""
        return {name: param.resolve(name=name) for name, param in self._params.items()}

    def dump(self) -> dict[str, Any]:
        """Every param's value, unchecked (None for a param without one)."""
        return {n: None if p.value is NOTSET else p.value for n, p in self._params.items()}


def resolve_params(
    dag_params: Mapping[str, Any] | None,
    task_params: Mapping[str, Any] | None = None,
    conf: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The params a task sees: the DAG's, then the task's, then the run's conf over them (see
    the module docstring), checked; ParamValidationError names the first param refused."""
    params = ParamsDict(dag_params)
    if task_params:
        params.update(ParamsDict(task_params))
    if conf:
        params.update(conf)
    return params.validate()


def dag_params(dag: Any) -> dict[str, Any]:
    """A DAG's params as declared: ``dag.params``, and ``default_args["params"]`` over them
    (as Airflow merges them)."""
    # items(): a ParamsDict's gives its Param objects, where dict() would resolve them.
    merged = dict((getattr(dag, "params", None) or {}).items())
    default_args = getattr(dag, "default_args", None) or {}
    merged.update(default_args.get("params") or {})
    return merged
