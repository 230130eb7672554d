"""``ObjectStorageStateBackend``: a worker-side state backend on any fsspec filesystem.

Set it as ``[workers] state_backend = "object_storage"`` with ``state_backend_kwargs`` such as
``{"root": "s3://bucket/prefix", "client_kwargs": {...}}``. Values stay in the worker's storage,
under credentials only the task process holds; the database keeps the reference, which is the
object's full URL.

**Layout.** Every write stores a new object, named by its scope, its key and a random part::

    <root>/task/<ti_id>/<key>/<32 hex digits>
    <root>/asset/<asset name>/<key>/<32 hex digits>

so no write ever changes an object that a reference already names: a compare-and-set that
is refused leaves the current value untouched, a reader meets the object its reference named,
and the object a write replaced is queued for purging by the database in the same transaction
(see ``taskstate.api.purge``). References of the earlier layout, ``<kind>/<owner>/<key>``, are
still read and purged.

Every path component is encoded by :func:`encode_component`: each byte outside
``[A-Za-z0-9_-]`` (``.`` and ``/`` included) becomes ``%XX``, so no component can be ``..``,
contain a separator, or equal another name's encoding. A component whose encoding is over
:data:`MAX_COMPONENT` characters keeps a prefix and a SHA-256 of the whole name behind a ``~``,
a character the short form never holds.

**References from the database are untrusted.** Before any read or purge, a reference must be
this root's URL followed by exactly the layout above, in the encoding's alphabet; anything else
raises :class:`~taskstate.errors.ReferenceResolutionError` and touches nothing.

**A value is published whole.** A reader meets the previous value or the new one, never part of
one, and a writer that fails or is killed midway leaves the previous value. On a local
filesystem a value is written beside its target as ``<name>.<32 hex digits>.tmp`` and renamed
over it; a killed writer leaves that temporary, which ``iter_objects`` lists for the orphan
sweep. An object store needs no temporary: it publishes an object in one step when the file is
closed (one PUT, or the completion of a multipart upload), so a failed write is abandoned, not
closed. On S3 a writer killed during a multipart upload (a value over s3fs's block size, 50 MiB
by default) leaves an incomplete upload, invisible and not listed; a bucket lifecycle rule
(``AbortIncompleteMultipartUpload``) removes those. A ``memory://`` value is stored in one step.
"""

from __future__ import annotations

import codecs
import contextlib
import hashlib
import os
import posixpath
import re
import uuid
from collections.abc import Iterator
from datetime import datetime
from typing import Any, NoReturn

from fsspec.implementations.local import LocalFileSystem  # type: ignore[import-untyped]
from fsspec.implementations.memory import MemoryFileSystem  # type: ignore[import-untyped]

from taskstate.backends import _fsspec
from taskstate.errors import BackendError, ReferenceResolutionError
from taskstate.state.backend import BaseStateBackend
from taskstate.state.types import StateEntry, StateScope, StoredValue

__all__ = ["MAX_COMPONENT", "ObjectStorageStateBackend", "encode_component"]

MAX_COMPONENT = 200
"""Longest encoded path component kept as is; longer ones are shortened with a hash."""

CHUNK_CHARS = 8 * 1024 * 1024
"""Characters encoded and written per call, so a large value is never copied whole."""

CHUNK_BYTES = 8 * 1024 * 1024
"""Bytes read per call."""

_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")
_COMPONENT = r"[A-Za-z0-9_%~-]+"
_LAYOUT = re.compile(rf"(task|asset)/({_COMPONENT})/({_COMPONENT})(?:/[0-9a-f]{{32}})?")
# What an interrupted local write leaves: the target's name, a '.', 32 hex digits, '.tmp'.
_TEMPORARY = re.compile(
    rf"(task|asset)/({_COMPONENT})/({_COMPONENT})(?:/[0-9a-f]{{32}})?\.[0-9a-f]{{32}}\.tmp"
)
_KINDS = {"task": "task state", "asset": "asset state"}


def encode_component(name: str) -> str:
    """``name`` as one path component: injective, in ``[A-Za-z0-9_%~-]``, never ``.``/``..``."""
    raw = name.encode("utf-8", "surrogatepass")
    encoded = "".join(chr(b) if b in _SAFE else f"%{b:02X}" for b in raw)
    if not encoded:
        return "~"
    if len(encoded) <= MAX_COMPONENT:
        return encoded
    return f"{encoded[: MAX_COMPONENT - 65]}~{hashlib.sha256(raw).hexdigest()}"


class ObjectStorageStateBackend(BaseStateBackend):
    """Stores task and asset state values as objects under ``root``; worker side only.

    ``root`` is a URL (``file:///abs/path``, ``memory://bucket/prefix``,
    ``s3://bucket/prefix``, ...) or an absolute path; by default
    ``$TASKSTATE_HOME/objects``. ``storage_options`` go to the fsspec filesystem.
    """

    def __init__(self, root: str | None = None, **storage_options: Any) -> None:
        self.root_url = root if root is not None else _fsspec.default_root()
        self._fs, self._root = _fsspec.filesystem(self.root_url, storage_options)
        self._local = isinstance(self._fs, LocalFileSystem)
        self._memory = isinstance(self._fs, MemoryFileSystem)
        self._real_root = os.path.realpath(self._root) if self._local else ""
        """The root with its symbolic links resolved, to check local paths against."""
        self._prefix = self._url(self._root) + "/"
        """Every reference this backend accepts starts with this."""

    def __repr__(self) -> str:
        return f"<ObjectStorageStateBackend {self._prefix[:-1]!r}>"

    # -- the six hooks -----------------------------------------------------------------

    def serialize_task_state_value(self, *, value: str, key: str, ti_id: str) -> str:
        return self._store(value, "task", ti_id, key)

    def deserialize_task_state_value(self, stored: str) -> str:
        return self._load(stored, "task")

    def serialize_asset_state_value(self, *, value: str, key: str, asset_name: str) -> str:
        return self._store(value, "asset", asset_name, key)

    def deserialize_asset_state_value(self, stored: str) -> str:
        return self._load(stored, "asset")

    def purge_task_state(self, stored: str) -> None:
        self._purge(stored, "task")

    def purge_asset_state(self, stored: str) -> None:
        self._purge(stored, "asset")

    def names_scope(self, stored: str, *, kind: str, owner: str, key: str | None = None) -> bool:
        """Whether ``stored`` names an object of ``kind`` state of ``owner`` (a task instance's
        id, or an asset's name), and of ``key`` when given. A reference outside this backend's
        layout is not judged here: reading or purging it is refused on its own."""
        match = self._match(stored)
        if match is None:
            return True
        return (
            match.group(1) == kind
            and match.group(2) == encode_component(owner)
            and (key is None or match.group(3) == encode_component(key))
        )

    # -- housekeeping --------------------------------------------------------------------

    def iter_objects(self, *, older_than: datetime | None = None) -> Iterator[str]:
        """The URL of every object under the root last modified before ``older_than`` (all if
        None): stored values (URLs in the reference layout, i.e. exactly the references this
        backend writes) and, on a local filesystem, temporaries left by a write that was
        interrupted.

        ``older_than`` must be timezone-aware. An object whose modification time cannot be read
        counts as new: it is not listed when ``older_than`` is given. Anything else under the
        root, and anything :meth:`purge_object` would refuse, is left out. The listing is read
        afresh, so objects that other processes wrote are seen.
        """
        cutoff = _fsspec.cutoff(older_than)
        try:
            found = self._fs.find(self._root, detail=True)
        except FileNotFoundError:
            return
        except Exception as exc:
            self._driver_failed("list the objects under", self._prefix, exc)
        for path, info in found.items():
            url = self._url(path)
            try:
                self._checked(url, None, allow_temporary=self._local)
            except ReferenceResolutionError:
                continue  # not in the layout, or reached through a symbolic link leading out
            if cutoff is not None:
                modified = _fsspec.modified(info)
                if modified is None or modified >= cutoff:
                    continue
            yield url

    def purge_object(self, url: str, *, older_than: datetime | None = None) -> bool:
        """Remove the object at ``url`` (a URL that :meth:`iter_objects` yields) if it is still
        last modified before ``older_than``; return whether it was removed.

        Refuses (:class:`~taskstate.errors.ReferenceResolutionError`) any URL that is not a
        value or temporary under the root, exactly like the checks of a purge.

        References are deterministic, so a task may set the same key again, making the object
        live once more, between the listing and this call. Reading the modification time again
        here narrows that race to the moment between this read and the removal; it does not
        close it, which is why the sweep only considers objects older than a grace period.
        """
        cutoff = _fsspec.cutoff(older_than)
        path = self._checked(url, None, allow_temporary=self._local)
        try:
            if cutoff is not None:
                modified = _fsspec.modified(self._fs.info(path))
                if modified is None or modified >= cutoff:
                    return False
            self._remove(path)
        except FileNotFoundError:
            return False
        except Exception as exc:
            self._driver_failed("remove", url, exc)
        return True

    # -- I/O -----------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return str(self._fs.unstrip_protocol(path))

    def _store(self, value: str, kind: str, owner: str, key: str) -> str:
        name = uuid.uuid4().hex
        relative = f"{kind}/{encode_component(owner)}/{encode_component(key)}/{name}"
        path = f"{self._root}/{relative}"
        ref = self._prefix + relative
        try:
            if self._local:
                try:
                    self._store_local(path, value)
                except FileNotFoundError:
                    # A purge removed the owner's folder, emptied, between makedirs and open.
                    self._store_local(path, value)
            elif self._memory:
                # One assignment publishes it; the bytes are kept in memory whole anyway.
                self._fs.pipe_file(path, value.encode("utf-8", "surrogatepass"))
            else:
                # No temporary and no exists() call: an object store publishes the object in
                # one step when the file is closed, and only then (see the module docstring).
                self._write(path, value)
        except Exception as exc:
            self._driver_failed("store", ref, exc)
        return ref

    def _store_local(self, path: str, value: str) -> None:
        # Write beside the target and rename, so a reader never meets half a value. The
        # temporary name holds a '.', so it never matches the layout.
        self._fs.makedirs(posixpath.dirname(path), exist_ok=True)
        temporary = f"{path}.{uuid.uuid4().hex}.tmp"
        try:
            self._write(temporary, value)
            self._fs.mv(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):  # never created, if the folder was gone
                self._fs.rm_file(temporary)
            raise

    def _write(self, path: str, value: str) -> None:
        """Write ``value`` to ``path`` in chunks. A write that fails is abandoned: an object
        store publishes none of it (a local temporary is removed by the caller)."""
        f = self._fs.open(path, "wb")
        try:
            for start in range(0, len(value), CHUNK_CHARS):
                f.write(value[start : start + CHUNK_CHARS].encode("utf-8", "surrogatepass"))
        except BaseException:
            _fsspec.abandon(f)
            raise
        f.close()

    def _remove(self, path: str) -> None:
        """Remove the object at ``path``, and on a local filesystem its folder once empty."""
        self._fs.rm_file(path)
        if self._local:
            # A folder per key and per task instance would otherwise outlive the state forever.
            folder = posixpath.dirname(path)
            for _ in range(2):
                if os.path.realpath(folder) == self._real_root:
                    break
                try:
                    os.rmdir(folder)
                except OSError:  # not empty, or removed already
                    break
                folder = posixpath.dirname(folder)

    def _load(self, stored: str, kind: str) -> str:
        path = self._checked(stored, kind)
        decoder = codecs.getincrementaldecoder("utf-8")("surrogatepass")
        parts: list[str] = []
        try:
            with self._fs.open(path, "rb") as f:
                while chunk := f.read(CHUNK_BYTES):
                    parts.append(decoder.decode(chunk))
            parts.append(decoder.decode(b"", final=True))
        except FileNotFoundError as exc:
            raise ReferenceResolutionError(
                f"{_KINDS[kind]} reference {stored!r} names no object: it was purged, or the "
                "storage was changed outside taskstate",
                detail={"ref": stored},
            ) from exc
        except UnicodeDecodeError as exc:
            raise ReferenceResolutionError(
                f"{_KINDS[kind]} reference {stored!r} names an object that is not UTF-8 text",
                detail={"ref": stored},
            ) from exc
        except Exception as exc:
            self._driver_failed("read", stored, exc)
        return "".join(parts)

    def _purge(self, stored: str, kind: str) -> None:
        path = self._checked(stored, kind)
        try:
            self._remove(path)
        except FileNotFoundError:
            return  # purged already: purging is idempotent
        except Exception as exc:
            self._driver_failed("purge", stored, exc)

    def _match(self, url: object, *, allow_temporary: bool = False) -> re.Match[str] | None:
        """The layout match of ``url`` if it names an object under this root, else None."""
        if not isinstance(url, str) or not url.startswith(self._prefix):
            return None
        relative = url[len(self._prefix) :]
        match = _LAYOUT.fullmatch(relative)
        if match is None and allow_temporary:
            match = _TEMPORARY.fullmatch(relative)
        return match

    def _checked(self, stored: str, kind: str | None, *, allow_temporary: bool = False) -> str:
        """The path of ``stored`` if it is an object this backend wrote, else raise.

        ``kind`` (``task`` or ``asset``) must match the reference's, when given.
        """
        match = self._match(stored, allow_temporary=allow_temporary)
        what = _KINDS[kind] if kind is not None else "object"
        if match is None or (kind is not None and match.group(1) != kind):
            raise ReferenceResolutionError(
                f"refusing {what} reference {stored!r}: it is not an object this "
                f"backend stores under {self._prefix[:-1]!r}",
                detail={"ref": stored, "root": self._prefix[:-1]},
            )
        path = f"{self._root}/{stored[len(self._prefix) :]}"
        if self._local:
            # A symbolic link planted under the root must not lead a read or purge outside it.
            real_root = self._real_root
            if os.path.commonpath([real_root, os.path.realpath(path)]) != real_root:
                raise ReferenceResolutionError(
                    f"refusing {what} reference {stored!r}: it leads outside "
                    f"{self._prefix[:-1]!r} through a symbolic link",
                    detail={"ref": stored, "root": self._prefix[:-1]},
                )
        return path

    def _driver_failed(self, action: str, ref: str, exc: Exception) -> NoReturn:
        raise BackendError(
            f"object storage failed to {action} {ref!r}: {type(exc).__name__}: {exc}",
            detail={"ref": ref},
        ) from exc

    # -- server side: not this backend's part -------------------------------------------

    def _server_side(self) -> NoReturn:
        raise NotImplementedError(
            "ObjectStorageStateBackend is a worker-side backend: set it as "
            "[workers] state_backend, not [state_store] backend"
        )

    def get(self, scope: StateScope, key: str, *, session: Any = None) -> StoredValue | None:
        self._server_side()

    def set(self, scope: StateScope, key: str, value: StoredValue, *, session: Any = None) -> None:
        self._server_side()

    def delete(self, scope: StateScope, key: str, *, session: Any = None) -> StoredValue | None:
        self._server_side()

    def clear(
        self, scope: StateScope, *, all_map_indices: bool = False, session: Any = None
    ) -> list[StoredValue]:
        self._server_side()

    async def aget(self, scope: StateScope, key: str, *, session: Any = None) -> StoredValue | None:
        self._server_side()

    async def aset(
        self, scope: StateScope, key: str, value: StoredValue, *, session: Any = None
    ) -> None:
        self._server_side()

    async def adelete(
        self, scope: StateScope, key: str, *, session: Any = None
    ) -> StoredValue | None:
        self._server_side()

    async def aclear(
        self, scope: StateScope, *, all_map_indices: bool = False, session: Any = None
    ) -> list[StoredValue]:
        self._server_side()

    def list_entries(self, scope: StateScope, *, session: Any = None) -> list[StateEntry]:
        self._server_side()
