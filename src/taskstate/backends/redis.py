"""``RedisStateBackend``: task and asset state in Redis, as a server-side backend.

Data layout (``P`` is the configured prefix, ``len:`` a length prefix, see below)::

    P:task:<dag_id><run_id><task_id>:<map_index>   hash    one task instance's state
    P:task:<dag_id><run_id><task_id>:maps          set     names of that task's hashes
    P:asset:<name>                                 hash    one asset's state
    P:expiring                                     zset    keys that expire, scored by when
    P:try:<ti_id>                                  string  a task instance's latest try
    P:refs, P:purge:<ref id>, P:purge:seq                  references and their purges

Every part of a scope is written as ``<length>:<text>`` (a netstring without the trailing
comma), so the parts are self-delimiting and no dag_id, run_id, task_id or asset name can make
two scopes share a key, whatever characters they hold. A hash field is a state key; its value
is one of::

    v<updated>[e<expires>][w<n>]n<version>[c<m>]:<written_by><key_id><data>          inline
    r<updated>[e<expires>][w<n>]n<version>[c<m>]:<written_by><key_id><len>:<ref_backend><data>

``<updated>`` and ``<expires>`` are microseconds since the epoch; ``e<expires>`` is there only
for a key that expires, ``w<n>`` (the length of ``<written_by>``) only when the writer is
recorded, ``n<version>`` is the key's version (assigned by the set script), and ``c<m>`` (the
length of ``<key_id>``) is there only for a value encrypted in the task process, so values
written before any of them existed read as they always did (at version 1). The first character
marks a reference out of band: the data itself is stored verbatim and is never inspected, so
no user value can pass for a reference.

Redis 7.0 has no expiry of single hash fields (HEXPIRE came in 7.4), so expiry is kept in the
value and every read filters on it: an expired key is invisible at once. A member
``<bytes of the hash name>:<hash name><field>`` of ``P:expiring``, scored by the expiry, lets the
clean-up find expired keys without a scan; the scripts that set, delete and clear keys keep it
in step in the same atomic step.

The last line is the purge protocol's (see :mod:`taskstate.backends._redis_purges`): how many
values name each reference, the claim or purge number of each reference a purge met, and the
purge counter; the scripts that write values keep them in step, and ``set`` of a reference that
a purge holds, or removed after the writer stored its object, is refused
(:class:`~taskstate.errors.PurgePendingError`).

Every operation is one round trip and atomic. ``get`` is an HGET and ``list_entries`` an
HGETALL; the rest are Lua scripts, registered once and run by EVALSHA: ``set`` also files the
key in the expiry index (or takes it out) and adds a task's hash to its task's ``maps`` set,
``delete`` returns the removed value (and drops an emptied hash from the set), ``clear``
returns the removed references while it deletes, and ``delete_expired`` removes the oldest
expired keys and returns their references. ``clear(..., all_map_indices=True)`` walks the
task's ``maps`` set, so it finds every map index without a SCAN. Those scripts touch keys they
find at run time, so the backend needs a single Redis server (replicas are fine), not Redis
Cluster.

Unlike the metastore, Redis knows nothing of DAG runs, task instances or assets: ``set`` never
raises :class:`~taskstate.errors.NotFoundError`, and state outlives a deleted DAG run until it
is cleared. The API server checks the caller's token and the scope before it calls a backend.
Nor does Redis share a transaction with the metadata database: the clean-up removes expired
keys here and then queues their references there, so an API server killed between the two
leaves objects that ``taskstate state purge --orphans`` finds.

Redis errors are translated once, here, into :class:`~taskstate.errors.BackendError`, naming the
server by its URL with the password masked.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import redis
import redis.asyncio
from redis.exceptions import BusyLoadingError, RedisError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from taskstate.backends import _refusals as refusals
from taskstate.backends._redis_purges import (
    BUILD_INDEX,
    CLAIM,
    RELEASE,
    PurgeKeys,
    ref_id,
)
from taskstate.backends._redis_scripts import (
    CLEAR,
    CLEAR_FENCED,
    CLEAR_TASK,
    DELETE,
    EXPIRE,
    RECORD_TRY,
    SET,
)
from taskstate.backends.redis_persistence import check_persistence
from taskstate.config.display import mask_url_password
from taskstate.errors import BackendError
from taskstate.state.backend import BaseStateBackend, ClaimAnswer
from taskstate.state.types import (
    AssetScope,
    ExpiredBatch,
    StateEntry,
    StateKind,
    StateScope,
    StoredValue,
    TaskScope,
    TryFence,
    TryPhase,
)

__all__ = ["DEFAULT_URL", "RedisStateBackend"]

DEFAULT_URL = "redis://127.0.0.1:6379/0"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

# -- the I/O-free core: keys and values ---------------------------------------------------------


def _part(text: str) -> str:
    return f"{len(text)}:{text}"


def _task_base(prefix: str, scope: TaskScope) -> str:
    return f"{prefix}:task:{_part(scope.dag_id)}{_part(scope.run_id)}{_part(scope.task_id)}"


def _keys(prefix: str, scope: StateScope) -> list[str]:
    """The scope's hash, the expiry index, then (for a task scope) its task's index set."""
    index = f"{prefix}:expiring"
    if type(scope) is TaskScope:
        base = _task_base(prefix, scope)
        return [f"{base}:{scope.map_index}", index, f"{base}:maps"]
    if type(scope) is AssetScope:
        return [f"{prefix}:asset:{_part(scope.name)}", index]
    raise TypeError(f"not a state scope: {scope!r}")


def _micros(moment: datetime) -> int:
    return (moment - _EPOCH) // _MICROSECOND


def _now_micros() -> int:
    return time.time_ns() // 1000


def _encode(value: StoredValue) -> tuple[str, str, str]:
    """The hash value of ``value`` as its header and the rest (the set script puts the version
    between them), and its expiry score ('' if it never expires)."""
    header = f"{'v' if value.ref_backend is None else 'r'}{_now_micros()}"
    expiry = ""
    if value.expires_at is not None:
        expiry = str(_micros(value.expires_at))
        header += f"e{expiry}"
    written = value.written_by
    if written is not None:
        header += f"w{len(written)}"
    key_id = value.encryption
    # After the version the script inserts, so the scripts' reading of the header is unchanged.
    marker = "" if key_id is None else f"c{len(key_id)}"
    body = value.data if value.ref_backend is None else f"{_part(value.ref_backend)}{value.data}"
    return header, f"{marker}:{written or ''}{key_id or ''}{body}", expiry


_HEADER = re.compile(r"[vr](\d+)(?:e(\d+))?(?:w(\d+))?(?:n(\d+))?(?:c(\d+))?")


def _decode_parts(raw: str) -> tuple[StoredValue, int, int | None]:
    """(what is stored, when it was written, when it expires) of a hash value; times in µs."""
    header, _, rest = raw.partition(":")
    expires = written_by = key_id = None
    version = 1  # a value written before versions
    if header[1:].isdigit():  # a value written before versions, with no expiry and no writer
        updated = int(header[1:])
    else:
        match = _HEADER.fullmatch(header)
        if match is None:
            raise ValueError(f"not a state value: {raw[:40]!r}")
        updated = int(match[1])
        expires = None if match[2] is None else int(match[2])
        if match[3] is not None:
            size = int(match[3])
            written_by, rest = rest[:size], rest[size:]
        if match[4] is not None:
            version = int(match[4])
        if match[5] is not None:
            size = int(match[5])
            key_id, rest = rest[:size], rest[size:]
    expires_at = None if expires is None else _EPOCH + expires * _MICROSECOND
    if raw[0] == "v":
        stored = StoredValue(rest, None, expires_at, written_by, version, key_id)
        return stored, updated, expires
    length, _, rest = rest.partition(":")
    size = int(length)
    stored = StoredValue(rest[size:], rest[:size], expires_at, written_by, version, key_id)
    return stored, updated, expires


def _decode(raw: str | None) -> StoredValue | None:
    return None if raw is None else _decode_parts(raw)[0]


def _live(raw: str | None) -> StoredValue | None:
    """What ``raw`` stores, unless it has expired."""
    if raw is None:
        return None
    stored, _, expires = _decode_parts(raw)
    return None if expires is not None and expires <= _now_micros() else stored


def _ref(raw: str) -> StoredValue:
    """A removed reference: what purging needs, without its expiry and writer."""
    stored = _decode_parts(raw)[0]
    return StoredValue(stored.data, stored.ref_backend)


def _refs(raws: list[str]) -> list[StoredValue]:
    return [_ref(raw) for raw in raws]


def _entries(fields: dict[str, str]) -> list[StateEntry]:
    now = _now_micros()
    entries = []
    for key in sorted(fields):
        stored, updated, expires = _decode_parts(fields[key])
        if expires is None or expires > now:
            entries.append(StateEntry(key, stored, _EPOCH + updated * _MICROSECOND))
    return entries


def _expired(out: list[Any]) -> ExpiredBatch:
    pairs = zip(out[1::2], out[2::2], strict=True)
    refs = [(cast(StateKind, kind), _ref(raw)) for kind, raw in pairs]
    return ExpiredBatch(int(out[0]), refs)


def _glob_escape(text: str) -> str:
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in text)


# -- the backend ---------------------------------------------------------------------------------


_PHASES: dict[TryPhase, int] = {"queued": 1, "running": 2, "ended": 3}
_ENDED_TRY_SECONDS = 7 * 24 * 3600
"""How long the key of an ended try stays: longer than any token of it can live. Once it is
gone, the try's writes are refused all the same (no key: no try in flight)."""


def _text(if_version: int | None) -> str:
    return "" if if_version is None else str(if_version)


def _try(fence: TryFence | None) -> str:
    return "" if fence is None else str(fence.try_number)


def _check_purges(reply: list[Any], key: str, value: StoredValue, restored_after: int) -> None:
    """Raise PurgePendingError if the set script refused the reference for a purge."""
    if int(reply[0]) == 3:
        claimed, purged_through = int(reply[1]), int(reply[2])
        error = refusals.purge_pending(key, value.data, claimed, purged_through, restored_after)
        if error is not None:
            raise error


def _accepted(reply: list[Any], key: str, if_version: int | None, fence: TryFence | None) -> str:
    """The detail of a script's ``{code, detail}`` reply; the refusal raised if it is one."""
    code, detail = int(reply[0]), reply[1]
    if code == 1:
        assert fence is not None
        current = detail or None
        why = "no try of it is in flight" if current is None else f"its try key is {current!r}"
        raise refusals.stale_try(fence, why, current)
    if code == 2:
        raise refusals.version_conflict(key, int(if_version or 0), int(detail))
    return str(detail)


class RedisStateBackend(BaseStateBackend):
    """Keeps task and asset state in Redis hashes under ``prefix`` (see the module docstring).

    The sync methods use a ``redis.Redis`` client and the async twins a ``redis.asyncio.Redis``
    client, both built from ``url`` once. The async client's connections belong to the event
    loop that opened them: use the async twins from one loop, and close with :meth:`aclose` on
    it. ``session`` is accepted for the interface's sake and ignored.

    It keeps versions and fences writes in its scripts: ``P:try:<ti_id>`` holds
    ``<try number>:<phase>`` (1 queued, 2 running, 3 ended), set through :meth:`record_try`
    when the API server queues, starts and ends a try; a write of a try is applied only while
    that key names the try and it has not ended.

    The server's persistence is checked when the backend is built: a Redis that keeps its data
    only in memory is refused with :class:`~taskstate.errors.VolatileBackendError`, unless
    ``allow_volatile`` says that losing every value on a Redis restart is intended (see
    :mod:`taskstate.backends.redis_persistence`); then nothing is checked.
    """

    supports_versions = True
    supports_fencing = True
    guards_purges = True

    def __init__(
        self, url: str = DEFAULT_URL, *, prefix: str = "taskstate", allow_volatile: bool = False
    ) -> None:
        if not prefix:
            raise ValueError("the key prefix of RedisStateBackend must not be empty")
        self._prefix = prefix
        self._index = f"{prefix}:expiring"
        self._task_prefix = f"{prefix}:task:"
        self._purges = PurgeKeys(prefix, _glob_escape(prefix))
        self._index_built = False
        self._masked_url = mask_url_password(url)
        try:
            self._client: redis.Redis = redis.Redis.from_url(url, decode_responses=True)
            self._aclient: redis.asyncio.Redis = redis.asyncio.Redis.from_url(
                url, decode_responses=True
            )
        except (ValueError, RedisError) as exc:
            raise BackendError(
                f"cannot use Redis URL {self._masked_url}: {exc}",
                detail={"url": self._masked_url, "error": type(exc).__name__},
            ) from exc
        self.persistence = "not checked (allow_volatile)"
        """How the server keeps its data, as :func:`check_persistence` found it."""
        if not allow_volatile:
            try:
                self.persistence = check_persistence(self._client, self._masked_url)
            except BaseException:
                self._client.close()
                raise
        self._set = self._client.register_script(SET)
        self._delete = self._client.register_script(DELETE)
        self._clear = self._client.register_script(CLEAR)
        self._clear_task = self._client.register_script(CLEAR_TASK)
        self._expire = self._client.register_script(EXPIRE)
        self._clear_fenced = self._client.register_script(CLEAR_FENCED)
        self._record_try = self._client.register_script(RECORD_TRY)
        self._build_index = self._client.register_script(BUILD_INDEX)
        self._claim = self._client.register_script(CLAIM)
        self._release = self._client.register_script(RELEASE)
        self._aset = self._aclient.register_script(SET)
        self._adelete = self._aclient.register_script(DELETE)
        self._aclear = self._aclient.register_script(CLEAR)
        self._aclear_task = self._aclient.register_script(CLEAR_TASK)
        self._aexpire = self._aclient.register_script(EXPIRE)
        self._aclear_fenced = self._aclient.register_script(CLEAR_FENCED)
        self._arecord_try = self._aclient.register_script(RECORD_TRY)
        self._abuild_index = self._aclient.register_script(BUILD_INDEX)
        self._aclaim = self._aclient.register_script(CLAIM)
        self._arelease = self._aclient.register_script(RELEASE)

    def __repr__(self) -> str:
        return f"RedisStateBackend({self._masked_url!r}, prefix={self._prefix!r})"

    @contextmanager
    def _translate(self) -> Iterator[None]:
        """Redis errors of the block, sync or async, as :class:`BackendError`."""
        try:
            yield
        except RedisError as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            # A lost or busy server: clients retry the request (see client._retry).
            transient = isinstance(exc, RedisConnectionError | RedisTimeoutError | BusyLoadingError)
            detail = {"url": self._masked_url, "error": type(exc).__name__, "transient": transient}
            raise BackendError(
                f"Redis at {self._masked_url} failed: {reason}", detail=detail
            ) from exc

    def _hash(self, scope: StateScope) -> str:
        return _keys(self._prefix, scope)[0]

    def _write_keys(self, scope: StateScope, fence: TryFence | None, *extra: str) -> list[str]:
        """The scope's hash, the expiry index, the writer's try key, the reference index,
        ``extra``[, the task's index set]."""
        keys = _keys(self._prefix, scope)
        try_key = self._try_key(fence.ti_id if fence else "")
        return [keys[0], keys[1], try_key, self._purges.index, *extra, *keys[2:]]

    def _try_key(self, ti_id: str) -> str:
        return f"{self._prefix}:try:{ti_id}"

    def _set_call(
        self,
        scope: StateScope,
        key: str,
        value: StoredValue,
        if_version: int | None,
        fence: TryFence | None,
        restored_after: int,
    ) -> dict[str, Any]:
        header, rest, expiry = _encode(value)
        ref = "" if value.ref_backend is None else ref_id(value.ref_backend, value.data)
        args = [key, header, rest, expiry, _text(if_version), _try(fence)]
        args += [ref, str(restored_after), self._purges.marks]
        return {"keys": self._write_keys(scope, fence, self._purges.seq), "args": args}

    def _delete_call(
        self, scope: StateScope, key: str, if_version: int | None, fence: TryFence | None
    ) -> dict[str, Any]:
        return {
            "keys": self._write_keys(scope, fence),
            "args": [key, _text(if_version), _try(fence)],
        }

    def _record_call(self, ti_id: str, try_number: int, phase: TryPhase) -> dict[str, Any]:
        args = [try_number, _PHASES[phase], _ENDED_TRY_SECONDS]
        return {"keys": [self._try_key(ti_id)], "args": args}

    def _clear_call(self, scope: StateScope, all_map_indices: bool) -> tuple[bool, list[str]]:
        """(whether to clear the whole task, the keys to pass)."""
        keys = _keys(self._prefix, scope)
        if all_map_indices and len(keys) == 3:
            return True, [keys[2], keys[1], self._purges.index]
        return False, [keys[0], keys[1], self._purges.index, *keys[2:]]

    def _expire_args(self, now: datetime, limit: int) -> dict[str, Any]:
        keys = [self._index, self._purges.index]
        return {"keys": keys, "args": [_micros(now), limit, self._task_prefix]}

    # -- sync ---------------------------------------------------------------------------------

    def get(self, scope: StateScope, key: str, *, session: Any = None) -> StoredValue | None:
        with self._translate():
            raw = cast("str | None", self._client.hget(self._hash(scope), key))
        return _live(raw)

    def set(
        self,
        scope: StateScope,
        key: str,
        value: StoredValue,
        *,
        if_version: int | None = None,
        fence: TryFence | None = None,
        restored_after: int = 0,
        session: Any = None,
    ) -> int:
        replaced = self.replace(
            scope, key, value, if_version=if_version, fence=fence, restored_after=restored_after
        )
        return replaced[0]

    def replace(
        self,
        scope: StateScope,
        key: str,
        value: StoredValue,
        *,
        if_version: int | None = None,
        fence: TryFence | None = None,
        restored_after: int = 0,
    ) -> tuple[int, StoredValue | None]:
        """:meth:`set`, and what it replaced (None if the key did not exist): the API server
        queues a replaced reference for purging, as the metastore's triggers do."""
        call = self._set_call(scope, key, value, if_version, fence, restored_after)
        with self._translate():
            reply = self._set(**call)
        _check_purges(reply, key, value, restored_after)
        return int(_accepted(reply, key, if_version, fence)), _decode(reply[2] or None)

    def delete(
        self,
        scope: StateScope,
        key: str,
        *,
        if_version: int | None = None,
        fence: TryFence | None = None,
        session: Any = None,
    ) -> StoredValue | None:
        with self._translate():
            reply = self._delete(**self._delete_call(scope, key, if_version, fence))
        return _decode(_accepted(reply, key, if_version, fence) or None)

    def clear(
        self,
        scope: StateScope,
        *,
        all_map_indices: bool = False,
        fence: TryFence | None = None,
        session: Any = None,
    ) -> list[StoredValue]:
        if fence is not None:
            with self._translate():
                reply = self._clear_fenced(keys=self._write_keys(scope, fence), args=[_try(fence)])
            _accepted(reply[:2] if len(reply) > 1 else [*reply, ""], "", None, fence)
            return _refs(reply[1:])
        whole_task, keys = self._clear_call(scope, all_map_indices)
        with self._translate():
            raws = (self._clear_task if whole_task else self._clear)(keys=keys)
        return _refs(raws)

    def record_try(self, ti_id: str, try_number: int, phase: TryPhase) -> None:
        with self._translate():
            self._record_try(**self._record_call(ti_id, try_number, phase))

    def list_entries(self, scope: StateScope, *, session: Any = None) -> list[StateEntry]:
        with self._translate():
            fields = cast("dict[str, str]", self._client.hgetall(self._hash(scope)))
        return _entries(fields)

    def delete_expired(self, *, now: datetime, limit: int, session: Any = None) -> ExpiredBatch:
        with self._translate():
            out = self._expire(**self._expire_args(now, limit))
        return _expired(out)

    def count_expired(self, *, now: datetime, session: Any = None) -> int:
        with self._translate():
            return int(self._client.zcount(self._index, "-inf", _micros(now)))

    def find_refs(self, ref_backend: str, refs: Sequence[str]) -> frozenset[str]:
        """Which of ``refs`` a value names, expired or not, from the reference index."""
        wanted = sorted(set(refs))
        if not wanted:
            return frozenset()
        with self._translate():
            self._ensure_index()
            counts = self._client.hmget(
                self._purges.index, [ref_id(ref_backend, r) for r in wanted]
            )
        return frozenset(r for r, n in zip(wanted, counts, strict=True) if n)

    def claim_purges(
        self, claim: str, refs: Sequence[tuple[str, str]], *, seconds: int, remember: int
    ) -> list[ClaimAnswer]:
        """Claim ``refs`` (pairs of backend and reference) for claim ``claim`` for ``seconds``;
        what was answered per reference. A finished purge is remembered for ``remember``
        seconds."""
        if not refs:
            return []
        with self._translate():
            self._ensure_index()
            out = self._claim(**self._purges.claim(claim, seconds, remember, refs))
        return [ClaimAnswer(int(x)) for x in out]

    def release_purges(self, claim: str, refs: Sequence[tuple[str, str]], *, remember: int) -> int:
        """The objects of ``refs`` that ``claim`` holds are gone: each becomes a purge,
        numbered now. Returns the newest number (0 if the claim held none of them)."""
        if not refs:
            return 0
        with self._translate():
            return int(self._release(**self._purges.release(claim, remember, refs)))

    def _ensure_index(self) -> None:
        if not self._index_built:
            self._build_index(**self._purges.build())
            self._index_built = True

    def close(self) -> None:
        """Close the sync client; :meth:`aclose` closes both."""
        self._client.close()

    # -- async --------------------------------------------------------------------------------

    async def aget(self, scope: StateScope, key: str, *, session: Any = None) -> StoredValue | None:
        with self._translate():
            raw = cast("str | None", await self._aclient.hget(self._hash(scope), key))
        return _live(raw)

    async def aset(
        self,
        scope: StateScope,
        key: str,
        value: StoredValue,
        *,
        if_version: int | None = None,
        fence: TryFence | None = None,
        restored_after: int = 0,
        session: Any = None,
    ) -> int:
        replaced = await self.areplace(
            scope, key, value, if_version=if_version, fence=fence, restored_after=restored_after
        )
        return replaced[0]

    async def areplace(
        self,
        scope: StateScope,
        key: str,
        value: StoredValue,
        *,
        if_version: int | None = None,
        fence: TryFence | None = None,
        restored_after: int = 0,
    ) -> tuple[int, StoredValue | None]:
        """Async twin of :meth:`replace`."""
        call = self._set_call(scope, key, value, if_version, fence, restored_after)
        with self._translate():
            reply = await self._aset(**call)
        _check_purges(reply, key, value, restored_after)
        return int(_accepted(reply, key, if_version, fence)), _decode(reply[2] or None)

    async def adelete(
        self,
        scope: StateScope,
        key: str,
        *,
        if_version: int | None = None,
        fence: TryFence | None = None,
        session: Any = None,
    ) -> StoredValue | None:
        with self._translate():
            reply = await self._adelete(**self._delete_call(scope, key, if_version, fence))
        return _decode(_accepted(reply, key, if_version, fence) or None)

    async def aclear(
        self,
        scope: StateScope,
        *,
        all_map_indices: bool = False,
        fence: TryFence | None = None,
        session: Any = None,
    ) -> list[StoredValue]:
        if fence is not None:
            keys = self._write_keys(scope, fence)
            with self._translate():
                reply = await self._aclear_fenced(keys=keys, args=[_try(fence)])
            _accepted(reply[:2] if len(reply) > 1 else [*reply, ""], "", None, fence)
            return _refs(reply[1:])
        whole_task, keys = self._clear_call(scope, all_map_indices)
        with self._translate():
            raws = await (self._aclear_task if whole_task else self._aclear)(keys=keys)
        return _refs(raws)

    async def arecord_try(self, ti_id: str, try_number: int, phase: TryPhase) -> None:
        with self._translate():
            await self._arecord_try(**self._record_call(ti_id, try_number, phase))

    async def alist_entries(self, scope: StateScope, *, session: Any = None) -> list[StateEntry]:
        with self._translate():
            fields = cast("dict[str, str]", await self._aclient.hgetall(self._hash(scope)))
        return _entries(fields)

    async def adelete_expired(
        self, *, now: datetime, limit: int, session: Any = None
    ) -> ExpiredBatch:
        with self._translate():
            out = await self._aexpire(**self._expire_args(now, limit))
        return _expired(out)

    async def acount_expired(self, *, now: datetime, session: Any = None) -> int:
        with self._translate():
            return int(await self._aclient.zcount(self._index, "-inf", _micros(now)))

    async def afind_refs(self, ref_backend: str, refs: Sequence[str]) -> frozenset[str]:
        wanted = sorted(set(refs))
        if not wanted:
            return frozenset()
        ids = [ref_id(ref_backend, r) for r in wanted]
        with self._translate():
            await self._aensure_index()
            counts = await self._aclient.hmget(self._purges.index, ids)
        return frozenset(r for r, n in zip(wanted, counts, strict=True) if n)

    async def aclaim_purges(
        self, claim: str, refs: Sequence[tuple[str, str]], *, seconds: int, remember: int
    ) -> list[ClaimAnswer]:
        """Async twin of :meth:`claim_purges`."""
        if not refs:
            return []
        with self._translate():
            await self._aensure_index()
            out = await self._aclaim(**self._purges.claim(claim, seconds, remember, refs))
        return [ClaimAnswer(int(x)) for x in out]

    async def arelease_purges(
        self, claim: str, refs: Sequence[tuple[str, str]], *, remember: int
    ) -> int:
        """Async twin of :meth:`release_purges`."""
        if not refs:
            return 0
        with self._translate():
            return int(await self._arelease(**self._purges.release(claim, remember, refs)))

    async def _aensure_index(self) -> None:
        if not self._index_built:
            await self._abuild_index(**self._purges.build())
            self._index_built = True

    async def aclose(self) -> None:
        """Close both clients; call it on the event loop the async twins ran on."""
        self._client.close()
        await self._aclient.aclose()
