"""Finding state backend classes by name or class path, with errors that say what to do.

A setting such as ``[workers] state_backend`` names a backend either by a short name from
:data:`KNOWN_BACKENDS` (``"metastore"``) or by class path (``"package.module.Class"`` or
``"package.module:Class"``). The task process imports this module to load its worker backend,
so it imports nothing but the standard library and the domain layer: no SQLAlchemy, no driver.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from taskstate.errors import BackendImportError, BackendOptionError
from taskstate.state.backend import BaseStateBackend

__all__ = [
    "INSTALL_HINTS",
    "KNOWN_BACKENDS",
    "KnownBackend",
    "check_options",
    "create_backend",
    "load_backend_class",
]


@dataclass(frozen=True)
class KnownBackend:
    """A backend that ships with taskstate, and what it needs installed."""

    path: str
    """``module.Class`` of the implementation."""
    requires: tuple[str, ...] = ()
    """Top-level modules it imports that taskstate does not install itself."""


KNOWN_BACKENDS: dict[str, KnownBackend] = {
    "metastore": KnownBackend("taskstate.backends.metastore.MetastoreStateBackend"),
    "redis": KnownBackend("taskstate.backends.redis.RedisStateBackend", ("redis",)),
    "object_storage": KnownBackend(
        "taskstate.backends.object_storage.ObjectStorageStateBackend", ("fsspec",)
    ),
    "memory": KnownBackend("taskstate.backends.memory.MemoryStateBackend"),
}

INSTALL_HINTS: dict[str, str] = {
    "redis": "install it with `pip install redis`",
    "fsspec": "install it with `pip install fsspec` (and the filesystem's package: "
    "`s3fs` for s3://, `gcsfs` for gs://, `adlfs` for az://)",
    "s3fs": "install it with `pip install 'taskstate[s3]'` (or `pip install s3fs`)",
    "gcsfs": "install it with `pip install gcsfs`",
    "adlfs": "install it with `pip install adlfs`",
}
"""What to install when importing a backend fails for want of a top-level module."""


def _fail(setting: str, path: str, reason: str, **detail: Any) -> BackendImportError:
    return BackendImportError(
        f"{setting} = {path!r}: {reason}", detail={"setting": setting, "path": path, **detail}
    )


def _split(path: str, setting: str) -> tuple[str, str]:
    """(module, attribute path) of ``path``: a known short name, ``mod.Class`` or ``mod:Class``."""
    known = KNOWN_BACKENDS.get(path)
    if known is not None:
        path = known.path
    if ":" in path:
        module_name, _, qualname = path.partition(":")
    else:
        module_name, _, qualname = path.rpartition(".")
    parts = [*module_name.split("."), *qualname.split(".")]
    if not module_name or not qualname or not all(part.isidentifier() for part in parts):
        names = ", ".join(sorted(KNOWN_BACKENDS))
        raise _fail(
            setting,
            path,
            f"not a known backend ({names}) nor a class path such as "
            "'package.module.ClassName' or 'package.module:ClassName'",
        )
    return module_name, qualname


def _is_missing(module_name: str, missing: str | None) -> bool:
    """Whether a ModuleNotFoundError for ``missing`` means ``module_name`` itself is absent."""
    return missing is not None and (module_name == missing or module_name.startswith(missing + "."))


def _import(module_name: str, path: str, setting: str) -> Any:
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if _is_missing(module_name, exc.name):
            raise _fail(
                setting,
                path,
                f"no module named {module_name!r}; check the spelling, and that the module's "
                "folder is on the import path (the DAG file's folder is, for worker backends)",
                module=module_name,
            ) from exc
        hint = INSTALL_HINTS.get((exc.name or "").partition(".")[0])
        reason = f"importing module {module_name!r} failed: {exc}"
        raise _fail(
            setting,
            path,
            f"{reason}; {hint}" if hint else reason,
            module=module_name,
            missing=exc.name,
        ) from exc
    except Exception as exc:
        raise _fail(
            setting,
            path,
            f"importing module {module_name!r} failed: {type(exc).__name__}: {exc}",
            module=module_name,
        ) from exc


def load_backend_class(path: str, *, setting: str) -> type[BaseStateBackend]:
    """The backend class that ``path`` names: a short name or ``module.Class`` / ``module:Class``.

    ``setting`` names where ``path`` came from (e.g. ``"[workers] state_backend"``) so that every
    :class:`BackendImportError` tells the user which setting to fix.
    """
    module_name, qualname = _split(path.strip(), setting)
    target: Any = _import(module_name, path, setting)
    for name in qualname.split("."):
        try:
            target = getattr(target, name)
        except AttributeError as exc:
            raise _fail(
                setting, path, f"module {module_name!r} has no attribute {qualname!r}"
            ) from exc
    if not isinstance(target, type):
        raise _fail(setting, path, f"{qualname!r} is a {type(target).__name__}, not a class")
    if not issubclass(target, BaseStateBackend):
        raise _fail(
            setting, path, f"{qualname!r} is not a subclass of taskstate.state.BaseStateBackend"
        )
    if inspect.isabstract(target):
        missing = ", ".join(sorted(getattr(target, "__abstractmethods__", ())))
        raise _fail(
            setting,
            path,
            f"{qualname!r} is abstract: it does not implement {missing} (a worker-side backend "
            "may implement them by raising NotImplementedError)",
        )
    return target


def _named_parameters(cls: type) -> tuple[list[str], bool]:
    """The keyword options ``cls`` is built with (through ``from_settings`` if it has one), and
    whether it also takes any other keyword (``**kwargs``)."""
    from_settings = getattr(cls, "from_settings", None)
    try:
        signature = inspect.signature(from_settings if callable(from_settings) else cls)
    except (TypeError, ValueError):  # a signature Python cannot read: leave it to the call
        return [], True
    named = [
        p.name
        for p in signature.parameters.values()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
    ]
    return named, any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())


def check_options(
    options: Mapping[str, Any], accepted: Collection[str], *, owner: str, setting: str
) -> None:
    """Refuse the first name of ``options`` that is not in ``accepted``, with the closest name.

    ``owner`` names what takes the options (a class), ``setting`` where they were written.
    Raises :class:`BackendOptionError`.
    """
    known = sorted(accepted)
    for name in options:
        if name in accepted:
            continue
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
        suggestion = close[0] if close else None
        hint = f"did you mean {suggestion!r}? " if suggestion else ""
        takes = ", ".join(known) if known else "no options"
        raise BackendOptionError(
            f"{setting}: {owner} takes no option {name!r}; {hint}it takes {takes}",
            detail={
                "setting": setting,
                "option": name,
                "suggestion": suggestion,
                "accepted": known,
            },
        )


def _check_options(cls: type, options: dict[str, Any], context: dict[str, Any], where: str) -> None:
    """Unknown options refused before the backend is built, instead of silently ignored.

    A class that takes ``**kwargs`` checks its options itself (as the object-storage backend
    does, against its filesystem's), if it wants to: they cannot be known from here.
    """
    named, open_ended = _named_parameters(cls)
    if open_ended:
        return
    accepted = [name for name in named if name not in context]
    check_options(options, accepted, owner=cls.__name__, setting=where)


def _build(cls: type[BaseStateBackend], options: dict[str, Any], context: dict[str, Any]) -> object:
    from_settings = getattr(cls, "from_settings", None)
    if callable(from_settings):
        return from_settings(**context, **options)
    return cls(**options)


def create_backend(
    path: str,
    kwargs: dict[str, Any] | None = None,
    *,
    setting: str,
    kwargs_setting: str | None = None,
    **context: Any,
) -> BaseStateBackend:
    """Load the backend class that ``path`` names and build an instance.

    A class with a ``from_settings`` classmethod gets ``from_settings(**context, **kwargs)``, so
    it can take what the caller has at hand (the server passes ``database=``); any other class
    gets ``cls(**kwargs)``. Options the class does not accept raise :class:`BackendOptionError`
    naming ``kwargs_setting`` (by default ``setting`` + ``_kwargs``) and the closest option it
    does accept; other failures to build it raise :class:`BackendImportError` naming ``setting``.
    """
    cls = load_backend_class(path, setting=setting)
    options = dict(kwargs or {})
    where = kwargs_setting or f"{setting}_kwargs"
    _check_options(cls, options, context, where)
    try:
        backend = _build(cls, options, context)
    except TypeError as exc:
        raise _fail(
            setting,
            path,
            f"{cls.__name__} cannot be built with the options in {where} "
            f"({', '.join(sorted(options)) or 'none'}): {exc}",
            kwargs_setting=where,
        ) from exc
    if not isinstance(backend, BaseStateBackend):
        raise _fail(
            setting, path, f"{cls.__name__}.from_settings returned {type(backend).__name__}"
        )
    return backend
