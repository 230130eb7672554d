"""The fsspec side of the object-storage backend: opening a root's filesystem, reading an
object's modification time, and abandoning a write so that nothing of it is published.

Kept apart from :mod:`taskstate.backends.object_storage`, which decides what is stored where.
"""

from __future__ import annotations

import contextlib
import difflib
import inspect
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import fsspec  # type: ignore[import-untyped]
from fsspec.registry import known_implementations  # type: ignore[import-untyped]
from fsspec.spec import AbstractBufferedFile, AbstractFileSystem  # type: ignore[import-untyped]

from taskstate.backends.registry import INSTALL_HINTS, check_options
from taskstate.errors import ConfigError

__all__ = [
    "KWARGS_SETTING",
    "SETTING",
    "abandon",
    "cutoff",
    "default_root",
    "filesystem",
    "filesystem_options",
    "modified",
]

SETTING = "[workers] state_backend"
KWARGS_SETTING = "[workers] state_backend_kwargs"

_CHECKED_PROTOCOLS = frozenset({"file", "local", "memory", "s3", "s3a", "gs", "gcs", "abfs", "az"})
"""Filesystems whose ``**kwargs`` end unused in fsspec's base class, so an option that none of
their constructors names would be silently ignored: those are refused. Others (``http://``
passes its extra options to every request) take whatever they are given."""

_BASE_OPTIONS = frozenset(
    {"skip_instance_cache", "use_listings_cache", "listings_expiry_time", "max_paths"}
)
"""What fsspec's base class itself reads from the options (its instance and listings caches)."""


def modified(info: dict[str, Any]) -> float | None:
    """An object's modification time (seconds since the epoch), if its filesystem says.

    Local files have ``mtime`` (a float), s3fs objects ``LastModified`` (an aware datetime),
    memory files ``created`` (a float from ``find``, a datetime from ``info``; a memory file is
    created anew by every write).
    """
    for field in ("mtime", "LastModified", "last_modified", "created"):
        value = info.get(field)
        if isinstance(value, datetime):
            # fsspec's filesystems report UTC; a naive time is read as such, not as local time.
            return (value if value.tzinfo else value.replace(tzinfo=UTC)).timestamp()
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
    return None


def cutoff(older_than: datetime | None) -> float | None:
    if older_than is None:
        return None
    if older_than.tzinfo is None or older_than.utcoffset() is None:
        raise ValueError(f"older_than must be timezone-aware, not {older_than!r}")
    return older_than.timestamp()


def abandon(f: Any) -> None:
    """Close ``f``, open for writing, without publishing what was written to it.

    fsspec's buffered files publish on close even when the write failed midway, which would
    replace the previous value with part of the new one.
    """
    if not isinstance(f, AbstractBufferedFile):
        f.close()  # a file type this cannot stop from publishing: at least release it
        return
    # Cancel the multipart upload, if one was started. An upload left behind is invisible and
    # the error that brought us here matters more than one from the abort.
    with contextlib.suppress(Exception):
        f.discard()
    f.closed = True  # neither close() nor the finaliser may commit it now


def default_root() -> str:
    home = os.environ.get("TASKSTATE_HOME") or str(Path.home() / ".taskstate")
    return Path(home, "objects").expanduser().resolve().as_uri()


def filesystem_options(cls: type) -> frozenset[str]:
    """The options a filesystem class reads: the names its constructors take, from the class
    down the chain of ``**kwargs`` to fsspec's base class."""
    names = set(_BASE_OPTIONS)
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        parameters = list(inspect.signature(init).parameters.values())[1:]  # without self
        names.update(
            p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)
        )
        if klass is AbstractFileSystem or not any(p.kind is p.VAR_KEYWORD for p in parameters):
            break
    return frozenset(names)


def _check_storage_options(cls: type, protocol: str, storage_options: dict[str, Any]) -> None:
    owner = f"ObjectStorageStateBackend on {protocol}://"
    if protocol in _CHECKED_PROTOCOLS:
        accepted = filesystem_options(cls) | {"root"}
        check_options(storage_options, accepted, owner=owner, setting=KWARGS_SETTING)
        return
    # Any option goes to such a filesystem; a near miss of the backend's own is still a typo.
    near_root = {name: None for name in storage_options if _close_to_root(name)}
    check_options(near_root, {"root"}, owner=owner, setting=KWARGS_SETTING)


def _close_to_root(name: str) -> bool:
    return name != "root" and difflib.SequenceMatcher(None, name, "root").ratio() >= 0.75


def filesystem(root: str, storage_options: dict[str, Any]) -> tuple[Any, str]:
    """The filesystem ``root`` lives on and its canonical path there."""
    protocol, _ = fsspec.core.split_protocol(root)
    if protocol is None and not os.path.isabs(root):
        raise ConfigError(
            f"{SETTING}: root {root!r} must be an absolute path or a URL such as file:///abs/path",
            detail={"setting": SETTING},
        )
    protocol = protocol or "file"
    try:
        cls = fsspec.get_filesystem_class(protocol)
    except ImportError as exc:
        known = known_implementations.get(protocol, {})
        package = str(known.get("class", protocol)).partition(".")[0]
        hint = INSTALL_HINTS.get(package, f"install it with `pip install {package}`")
        raise ConfigError(
            f"{SETTING}: root {root!r} uses {protocol}://, which needs the {package!r} package; "
            f"{hint}",
            detail={"setting": SETTING, "protocol": protocol, "package": package},
        ) from exc
    except ValueError as exc:
        raise ConfigError(
            f"{SETTING}: root {root!r} uses an unknown protocol {protocol!r}",
            detail={"setting": SETTING, "protocol": protocol},
        ) from exc
    _check_storage_options(cls, protocol, storage_options)
    try:
        # No listings cache: objects other processes write or purge must be seen at once.
        fs = cls(**{"use_listings_cache": False, **storage_options})
    except TypeError:
        raise  # options the filesystem does not take: the registry names the kwargs setting
    except Exception as exc:
        raise ConfigError(
            f"{SETTING}: cannot open the {protocol}:// filesystem of root {root!r}: "
            f"{type(exc).__name__}: {exc}",
            detail={"setting": SETTING, "protocol": protocol},
        ) from exc
    path = fs._strip_protocol(root)
    segments = [s for s in path.split("/") if s]
    if not segments or any(s in (".", "..") for s in segments):
        raise ConfigError(
            f"{SETTING}: root {root!r} must name a folder below the filesystem's top, "
            "without '.' or '..' segments",
            detail={"setting": SETTING},
        )
    return fs, ("/" if path.startswith("/") else "") + "/".join(segments)
