"""``RedisStateBackend``: task and asset state in Redis, as a server-side backend.

Data layout (``P`` is the configured prefix, ``len:`` a length prefix, see below)::

    P:task:<dag_id><run_id><task_id>:<map_index>   hash    one task instance's state
    P:task:<dag_id><run_id><task_id>:maps          set     names of that task's hashes
    P:asset:<name>                                 hash    one asset's state

Every part of a scope is written as ``<length>:<text>`` (a netstring without the trailing
comma), so the parts are self-delimiting and no dag_id, run_id, task_id or asset name can make
two scopes share a key, whatever characters they hold. A hash field is a state key; its value
is one of::

    v<updated_at µs>:<data>                         the JSON text of an inline value
    r<updated_at µs>:<len>:<ref_backend><data>      a reference written by a worker backend

The first character marks a reference out of band: the data itself is stored verbatim and is
never inspected, so no user value can pass for a reference.

Every operation is one round trip and atomic. ``get`` is an HGET and ``list_entries`` an
HGETALL; ``set`` of an asset key is an HSET. The rest are Lua scripts, registered once and run
by EVALSHA: ``set`` of a task key adds the hash to its task's ``maps`` set in the same step,
``delete`` returns the removed value (and drops an emptied hash from the set), and ``clear``
returns the removed references while it deletes. ``clear(..., all_map_indices=True)`` walks
the task's ``maps`` set, so it finds every map index without a SCAN. Those scripts touch keys
they find at run time, so the backend needs a single Redis server (replicas are fine), not
Redis Cluster.

Unlike the metastore, Redis knows nothing of DAG runs, task instances or assets: ``set`` never
raises :class:`~taskstate.errors.NotFoundError`, and state outlives a deleted DAG run until it
is cleared. The API server checks the caller's token and the scope before it calls a backend.

Redis errors are translated once, here, into :class:`~taskstate.errors.BackendError`, naming the
server by its URL with the password masked.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import redis
import redis.asyncio
from redis.exceptions import RedisError

from taskstate.config.display import mask_url_password
from taskstate.errors import BackendError
from taskstate.state.backend import BaseStateBackend
from taskstate.state.types import AssetScope, StateEntry, StateScope, StoredValue, TaskScope

__all__ = ["DEFAULT_URL", "RedisStateBackend"]

DEFAULT_URL = "redis://127.0.0.1:6379/0"

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# KEYS: the scope's hash, its task's index set. ARGV: field, encoded value.
_SET_TASK = """
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SADD', KEYS[2], KEYS[1])
"""

# KEYS: the scope's hash[, its task's index set]. ARGV: field. Returns the removed value.
_DELETE = """
local value = redis.call('HGET', KEYS[1], ARGV[1])
if value then
  redis.call('HDEL', KEYS[1], ARGV[1])
  if KEYS[2] and redis.call('EXISTS', KEYS[1]) == 0 then
    redis.call('SREM', KEYS[2], KEYS[1])
  end
end
return value
"""

# KEYS: the scope's hash[, its task's index set]. Returns the removed references.
_CLEAR = """
local refs = {}
for _, value in ipairs(redis.call('HVALS', KEYS[1])) do
  if string.byte(value, 1) == 114 then refs[#refs + 1] = value end
end
redis.call('DEL', KEYS[1])
if KEYS[2] then redis.call('SREM', KEYS[2], KEYS[1]) end
return refs
"""

# KEYS: a task's index set. Clears every map index of the task; returns the removed references.
_CLEAR_TASK = """
local refs = {}
for _, hash in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  for _, value in ipairs(redis.call('HVALS', hash)) do
    if string.byte(value, 1) == 114 then refs[#refs + 1] = value end
  end
  redis.call('DEL', hash)
end
redis.call('DEL', KEYS[1])
return refs
"""


# -- the I/O-free core: keys and values ---------------------------------------------------------


def _part(text: str) -> str:
    return f"{len(text)}:{text}"


def _task_base(prefix: str, scope: TaskScope) -> str:
    return f"{prefix}:task:{_part(scope.dag_id)}{_part(scope.run_id)}{_part(scope.task_id)}"


def _keys(prefix: str, scope: StateScope) -> list[str]:
    """The scope's hash, then (for a task scope) its task's index set."""
    if type(scope) is TaskScope:
        base = _task_base(prefix, scope)
        return [f"{base}:{scope.map_index}", f"{base}:maps"]
    if type(scope) is AssetScope:
        return [f"{prefix}:asset:{_part(scope.name)}"]
    raise TypeError(f"not a state scope: {scope!r}")


def _encode(value: StoredValue) -> str:
    micros = time.time_ns() // 1000
    if value.ref_backend is None:
        return f"v{micros}:{value.data}"
    return f"r{micros}:{len(value.ref_backend)}:{value.ref_backend}{value.data}"


def _decode_parts(raw: str) -> tuple[StoredValue, int]:
    header, _, rest = raw.partition(":")
    micros = int(header[1:])
    if raw[0] == "v":
        return StoredValue(rest), micros
    length, _, rest = rest.partition(":")
    size = int(length)
    return StoredValue(rest[size:], rest[:size]), micros


def _decode(raw: str | None) -> StoredValue | None:
    return None if raw is None else _decode_parts(raw)[0]


def _refs(raws: list[str]) -> list[StoredValue]:
    return [_decode_parts(raw)[0] for raw in raws]


def _entries(fields: dict[str, str]) -> list[StateEntry]:
    entries = []
    for key in sorted(fields):
        stored, micros = _decode_parts(fields[key])
        entries.append(StateEntry(key, stored, _EPOCH + timedelta(microseconds=micros)))
    return entries


def _glob_escape(text: str) -> str:
    return "".join(f"\\{c}" if c in "*?[]\\" else c for c in text)


def _held(values: list[str], ref_backend: str, wanted: frozenset[str]) -> set[str]:
    """The references among ``wanted`` that raw hash ``values`` hold for ``ref_backend``."""
    held = set()
    for raw in values:
        if raw[:1] == "r":
            stored = _decode_parts(raw)[0]
            if stored.ref_backend == ref_backend and stored.data in wanted:
                held.add(stored.data)
    return held


# -- the backend ---------------------------------------------------------------------------------


class RedisStateBackend(BaseStateBackend):
    """Keeps task and asset state in Redis hashes under ``prefix`` (see the module docstring).

    The sync methods use a ``redis.Redis`` client and the async twins a ``redis.asyncio.Redis``
    client, both built from ``url`` once. The async client's connections belong to the event
    loop that opened them: use the async twins from one loop, and close with :meth:`aclose` on
    it. ``session`` is accepted for the interface's sake and ignored.
    """

    def __init__(self, url: str = DEFAULT_URL, *, prefix: str = "taskstate") -> None:
        if not prefix:
            raise ValueError("the key prefix of RedisStateBackend must not be empty")
        self._prefix = prefix
        self._scan_match = f"{_glob_escape(prefix)}:*"
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
        self._set_task = self._client.register_script(_SET_TASK)
        self._delete = self._client.register_script(_DELETE)
        self._clear = self._client.register_script(_CLEAR)
        self._clear_task = self._client.register_script(_CLEAR_TASK)
        self._aset_task = self._aclient.register_script(_SET_TASK)
        self._adelete = self._aclient.register_script(_DELETE)
        self._aclear = self._aclient.register_script(_CLEAR)
        self._aclear_task = self._aclient.register_script(_CLEAR_TASK)

    def __repr__(self) -> str:
        return f"RedisStateBackend({self._masked_url!r}, prefix={self._prefix!r})"

    @contextmanager
    def _translate(self) -> Iterator[None]:
        """Redis errors of the block, sync or async, as :class:`BackendError`."""
        try:
            yield
        except RedisError as exc:
            reason = " ".join(str(exc).split()) or type(exc).__name__
            raise BackendError(
                f"Redis at {self._masked_url} failed: {reason}",
                detail={"url": self._masked_url, "error": type(exc).__name__},
            ) from exc

    def _clear_call(self, scope: StateScope, all_map_indices: bool) -> tuple[bool, list[str]]:
        """(whether to clear the whole task, the keys to pass)."""
        keys = _keys(self._prefix, scope)
        if all_map_indices and len(keys) == 2:
            return True, keys[1:]
        return False, keys

    # -- sync ---------------------------------------------------------------------------------

    def get(self, scope: StateScope, key: str, *, session: Any = None) -> StoredValue | None:
        with self._translate():
            raw = cast("str | None", self._client.hget(_keys(self._prefix, scope)[0], key))
        return _decode(raw)

    def set(self, scope: StateScope, key: str, value: StoredValue, *, session: Any = None) -> None:
        keys = _keys(self._prefix, scope)
        with self._translate():
            if len(keys) == 2:
                self._set_task(keys=keys, args=[key, _encode(value)])
            else:
                self._client.hset(keys[0], key, _encode(value))

    def delete(self, scope: StateScope, key: str, *, session: Any = None) -> StoredValue | None:
        with self._translate():
            raw = self._delete(keys=_keys(self._prefix, scope), args=[key])
        return _decode(raw)

    def clear(
        self, scope: StateScope, *, all_map_indices: bool = False, session: Any = None
    ) -> list[StoredValue]:
        whole_task, keys = self._clear_call(scope, all_map_indices)
        with self._translate():
            raws = (self._clear_task if whole_task else self._clear)(keys=keys)
        return _refs(raws)

    def list_entries(self, scope: StateScope, *, session: Any = None) -> list[StateEntry]:
        with self._translate():
            fields = cast("dict[str, str]", self._client.hgetall(_keys(self._prefix, scope)[0]))
        return _entries(fields)

    def find_refs(self, ref_backend: str, refs: Sequence[str]) -> frozenset[str]:
        """Walks every state hash (SCAN), since Redis keeps no index of references."""
        wanted = frozenset(refs)
        found: set[str] = set()
        if not wanted:
            return frozenset()
        with self._translate():
            for name in self._client.scan_iter(self._scan_match, count=1000, _type="hash"):
                values = cast("list[str]", self._client.hvals(name))
                found |= _held(values, ref_backend, wanted)
        return frozenset(found)

    def close(self) -> None:
        """Close the sync client; :meth:`aclose` closes both."""
        self._client.close()

    # -- async --------------------------------------------------------------------------------

    async def aget(self, scope: StateScope, key: str, *, session: Any = None) -> StoredValue | None:
        with self._translate():
            raw = cast("str | None", await self._aclient.hget(_keys(self._prefix, scope)[0], key))
        return _decode(raw)

    async def aset(
        self, scope: StateScope, key: str, value: StoredValue, *, session: Any = None
    ) -> None:
        keys = _keys(self._prefix, scope)
        with self._translate():
            if len(keys) == 2:
                await self._aset_task(keys=keys, args=[key, _encode(value)])
            else:
                await self._aclient.hset(keys[0], key, _encode(value))

    async def adelete(
        self, scope: StateScope, key: str, *, session: Any = None
    ) -> StoredValue | None:
        with self._translate():
            raw = await self._adelete(keys=_keys(self._prefix, scope), args=[key])
        return _decode(raw)

    async def aclear(
        self, scope: StateScope, *, all_map_indices: bool = False, session: Any = None
    ) -> list[StoredValue]:
        whole_task, keys = self._clear_call(scope, all_map_indices)
        with self._translate():
            raws = await (self._aclear_task if whole_task else self._aclear)(keys=keys)
        return _refs(raws)

    async def alist_entries(self, scope: StateScope, *, session: Any = None) -> list[StateEntry]:
        with self._translate():
            fields = cast(
                "dict[str, str]", await self._aclient.hgetall(_keys(self._prefix, scope)[0])
            )
        return _entries(fields)

    async def afind_refs(self, ref_backend: str, refs: Sequence[str]) -> frozenset[str]:
        wanted = frozenset(refs)
        found: set[str] = set()
        if not wanted:
            return frozenset()
        with self._translate():
            async for name in self._aclient.scan_iter(self._scan_match, count=1000, _type="hash"):
                values = cast("list[str]", await self._aclient.hvals(name))
                found |= _held(values, ref_backend, wanted)
        return frozenset(found)

    async def aclose(self) -> None:
        """Close both clients; call it on the event loop the async twins ran on."""
        self._client.close()
        await self._aclient.aclose()
