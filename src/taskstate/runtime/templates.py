"""Jinja templating of a task's templated fields, as Airflow renders them before ``execute``.

:func:`render_template_fields` renders, in place, every attribute of the operator named in its
``template_fields``: a string is a Jinja template rendered with the task's context
(``{{ ds }}``, ``{{ params.x }}``, ``{{ ti.xcom_pull(task_ids='t') }}``,
``{{ macros.ds_add(ds, 1) }}``, ``{{ var.value.x }}``, ``{{ dag_run.conf.get('k') }}``); strings
inside lists, tuples, dicts and sets are rendered too, and so are the template fields of an
object that has some. A string that ends with one of the operator's ``template_ext`` is the name
of a template file, looked up in the DAG file's folder and then the DAG's
``template_searchpath``. Empty values are left alone, as Airflow leaves them.

The environment is Airflow's: a sandbox (attributes starting with ``__`` are off limits),
``StrictUndefined`` unless the DAG sets ``template_undefined`` (so a misspelt name fails the
task instead of rendering as nothing), the ``do`` extension, the filters ``ds``, ``ds_nodash``,
``ts``, ``ts_nodash`` and ``ts_nodash_with_tz``, and the DAG's ``user_defined_macros`` and
``user_defined_filters``. With ``render_template_as_native_obj`` (the operator's, else the
DAG's), jinja2's NativeEnvironment renders to Python objects (``"{{ [1, 2] }}"`` is a list).

jinja2 is imported only when a field has a template to render.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping, Sequence
from datetime import date, time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from taskstate.errors import TemplateError

if TYPE_CHECKING:
    import jinja2
    import jinja2.sandbox

__all__ = ["render_template_fields"]

_MARKERS = ("{", "\r")
"""A string holding none of these, and not ending in a newline, renders to itself in the
default environment, so jinja2 is not needed for it (Jinja changes line ends and strips a
trailing newline: such strings go through it, as in Airflow)."""


def render_template_fields(
    op: Any, context: Mapping[str, Any], *, folder: str | Path | None = None
) -> None:
    """Render ``op``'s template fields in place with ``context``.

    ``folder`` is the DAG file's folder, searched first for template files; by default the
    DAG's ``folder`` (or that of its ``fileloc``). A field that cannot be rendered raises
    :class:`~taskstate.errors.TemplateError` naming the task and the field.
    """
    _Renderer(op, context, folder).render_fields(op)


def _stamp(fmt: str | None) -> Callable[[date | time | None], str | None]:
    def apply(value: date | time | None) -> str | None:
        if value is None:
            return None
        if fmt is None:
            return value.isoformat()
        return value.strftime(fmt)

    return apply


def _ts_nodash_with_tz(value: date | time | None) -> str | None:
    return None if value is None else value.isoformat().replace("-", "").replace(":", "")


FILTERS: dict[str, Callable[[Any], Any]] = {
    "ds": _stamp("%Y-%m-%d"),
    "ds_nodash": _stamp("%Y%m%d"),
    "ts": _stamp(None),
    "ts_nodash": _stamp("%Y%m%dT%H%M%S"),
    "ts_nodash_with_tz": _ts_nodash_with_tz,
}
"""Airflow's date filters: ``{{ data_interval_end | ds }}``."""


def _as_list(value: Any) -> list[str]:
    if not value:
        return []
    if isinstance(value, str | os.PathLike):
        return [os.fspath(value)]
    return [os.fspath(v) for v in value]


def _is_empty(value: Any) -> bool:
    try:
        return not value
    except Exception:  # an object whose truth is ambiguous (a DataFrame) is rendered as one
        return False


class _Renderer:
    """Renders the fields of one operator; the Jinja environment is built at first need."""

    def __init__(self, op: Any, context: Mapping[str, Any], folder: str | Path | None) -> None:
        self.op = op
        self.context = context
        self.dag = getattr(op, "dag", None) or context.get("dag")
        self.folder = folder
        self.template_ext = tuple(getattr(op, "template_ext", ()) or ())
        native = getattr(op, "render_template_as_native_obj", None)
        if native is None:
            native = getattr(self.dag, "render_template_as_native_obj", False)
        self.native = bool(native)
        self._env: jinja2.Environment | None = None
        self._seen: set[int] = set()

    def render_fields(self, parent: Any) -> None:
        fields: Sequence[str] | str = getattr(parent, "template_fields", ()) or ()
        for name in (fields,) if isinstance(fields, str) else fields:
            try:
                value = getattr(parent, name)
            except AttributeError:
                raise TemplateError(
                    f"{self._owner(parent)}: {name!r} is a template field, but "
                    f"{type(parent).__name__} has no attribute {name!r}",
                    detail={"field": name},
                ) from None
            if _is_empty(value):
                continue
            setattr(parent, name, self.render(value, parent, name))

    def _owner(self, parent: Any) -> str:
        task_id = getattr(parent, "task_id", None) or getattr(self.op, "task_id", None)
        return f"task {task_id!r}" if task_id else type(parent).__name__

    def render(self, value: Any, parent: Any, field: str) -> Any:
        if isinstance(value, str):
            return self._render_string(value, parent, field)
        if id(value) in self._seen:  # a structure that contains itself
            return value
        if value.__class__ is tuple:
            return tuple(self.render(item, parent, field) for item in value)
        if isinstance(value, tuple):  # a named tuple
            return value.__class__(*(self.render(item, parent, field) for item in value))
        if isinstance(value, list):
            return [self.render(item, parent, field) for item in value]
        if isinstance(value, dict):
            return {k: self.render(v, parent, field) for k, v in value.items()}
        if isinstance(value, set):
            return {self.render(item, parent, field) for item in value}
        if getattr(value, "template_fields", None):
            self._seen.add(id(value))
            self.render_fields(value)
        return value

    def _render_string(self, text: str, parent: Any, field: str) -> Any:
        is_file = bool(self.template_ext) and text.endswith(self.template_ext)
        plain = not any(m in text for m in _MARKERS) and not text.endswith("\n")
        if plain and not is_file and not self.native:
            return text
        import jinja2

        env = self._environment()
        try:
            template = env.get_template(text) if is_file else env.from_string(text)
            return template.render(self.context)
        except jinja2.TemplateNotFound as exc:
            loader = env.loader
            searched = loader.searchpath if isinstance(loader, jinja2.FileSystemLoader) else []
            where = ", ".join(searched) or "no folder"
            raise TemplateError(
                f"{self._owner(parent)}, field {field!r}: template file {exc.name!r} not found "
                f"in {where} (the DAG file's folder, then template_searchpath)",
                detail={"field": field, "template": exc.name},
            ) from exc
        except jinja2.TemplateError as exc:
            line = getattr(exc, "lineno", None)
            at = f" (line {line})" if isinstance(exc, jinja2.TemplateSyntaxError) else ""
            raise TemplateError(
                f"{self._owner(parent)}, field {field!r}: {type(exc).__name__}{at}: {exc}",
                detail={"field": field},
            ) from exc

    def _searchpath(self) -> list[str]:
        folder = self.folder
        if folder is None:
            folder = getattr(self.dag, "folder", None)
        fileloc = getattr(self.dag, "fileloc", None)
        if folder is None and fileloc:
            folder = os.path.dirname(fileloc)
        return _as_list(folder) + _as_list(getattr(self.dag, "template_searchpath", None))

    def _environment(self) -> jinja2.Environment:
        if self._env is None:
            self._env = _make_environment(
                self.dag, native=self.native, searchpath=self._searchpath()
            )
        return self._env


def _make_environment(dag: Any, *, native: bool, searchpath: list[str]) -> jinja2.Environment:
    import jinja2
    import jinja2.nativetypes

    options: dict[str, Any] = {
        "undefined": getattr(dag, "template_undefined", None) or jinja2.StrictUndefined,
        "extensions": ["jinja2.ext.do"],
        "cache_size": 0,
    }
    if searchpath:
        options["loader"] = jinja2.FileSystemLoader(searchpath)
    options.update(getattr(dag, "jinja_environment_kwargs", None) or {})
    make = jinja2.nativetypes.NativeEnvironment if native else _sandbox_class()
    env: jinja2.Environment = make(**options)
    env.filters.update(FILTERS)
    env.globals.update(getattr(dag, "user_defined_macros", None) or {})
    env.filters.update(getattr(dag, "user_defined_filters", None) or {})
    return env


@functools.cache
def _sandbox_class() -> type[jinja2.sandbox.SandboxedEnvironment]:
    import jinja2.sandbox

    class Sandbox(jinja2.sandbox.SandboxedEnvironment):
        """Airflow's sandbox: ``_private`` attributes are allowed, internal ones (``__x__``,
        a function's code) are not."""

        def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
            return not jinja2.sandbox.is_internal_attribute(obj, attr)

    return Sandbox
