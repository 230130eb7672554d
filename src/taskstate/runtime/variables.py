"""``context["var"]``: Airflow Variables, read from the task process's environment.

``var.value.NAME`` is the text of ``TASKSTATE_VAR_NAME``, else of ``AIRFLOW_VAR_NAME`` (the
name upper-cased, as Airflow's environment-variables secrets backend looks it up);
``var.json.NAME`` is that text parsed as JSON. A variable that is set in neither raises
:class:`~taskstate.errors.VariableNotFoundError` (also a KeyError), unless read with
``var.value.get(name, default)``.

taskstate has no variable store: the environment is the only source, read at each access. The
supervisor passes its environment on to the task process, without taskstate's keys and server
settings (:func:`taskstate.hardening.without_secrets`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from taskstate.errors import InvalidValueError, VariableNotFoundError

__all__ = ["ENV_PREFIXES", "VariableAccessor", "variables"]

ENV_PREFIXES = ("TASKSTATE_VAR_", "AIRFLOW_VAR_")
"""Where a variable is looked up, first match wins."""

_MISSING = object()


class VariableAccessor:
    """``var.value`` (text) or ``var.json`` (parsed): ``accessor.NAME``, ``accessor.get(NAME,
    default)``."""

    def __init__(self, *, deserialize_json: bool, environ: Mapping[str, str] | None = None) -> None:
        self._json = deserialize_json
        self._environ = environ

    def __repr__(self) -> str:
        return f"<var.{'json' if self._json else 'value'}: from TASKSTATE_VAR_*, AIRFLOW_VAR_*>"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):  # copy, pickle and friends probe for dunders
            raise AttributeError(name)
        return self.get(name, _MISSING)

    def get(self, name: str, default: Any = None) -> Any:
        """The variable ``name``, or ``default`` when it is not set."""
        environ = os.environ if self._environ is None else self._environ
        for prefix in ENV_PREFIXES:
            raw = environ.get(prefix + name.upper())
            if raw is not None:
                return self._decode(name, prefix, raw)
        if default is _MISSING:
            raise VariableNotFoundError(
                f"variable {name!r} is not set: taskstate reads variables from the environment "
                f"({' or '.join(p + name.upper() for p in ENV_PREFIXES)})",
                detail={"variable": name},
            )
        return default

    def _decode(self, name: str, prefix: str, raw: str) -> Any:
        if not self._json:
            return raw
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise InvalidValueError(
                f"variable {name!r} ({prefix}{name.upper()}) is not JSON, as var.json needs: {exc}",
                detail={"variable": name},
            ) from exc


def variables(environ: Mapping[str, str] | None = None) -> dict[str, VariableAccessor]:
    """``context["var"]``: ``{"value": ..., "json": ...}``."""
    return {
        "value": VariableAccessor(deserialize_json=False, environ=environ),
        "json": VariableAccessor(deserialize_json=True, environ=environ),
    }
