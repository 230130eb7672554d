"""Redis's side of the purge protocol: which references are live, and what purges hold.

The purge queue lives in the metadata database (:mod:`taskstate.api.purge`); the references
live in Redis, which shares no transaction with it. So the decisions that must be atomic with a
``set`` are taken here, in Redis, by scripts:

``P:refs`` (hash)
    per reference id (``<len>:<ref_backend><data>``), how many state values name it; every
    script that writes or removes a value keeps it in step (see
    :mod:`taskstate.backends._redis_scripts`), so a reference is live exactly while it has a
    count. :data:`BUILD_INDEX` counts what was written before the index existed, once per
    prefix (``P:refs:built``).
``P:purge:<id>`` (string)
    the newest purge of a reference: ``c:<claim>:<until µs>`` while a purger holds it,
    ``p:<number>`` once it has removed the object, numbered from ``P:purge:seq`` in the
    order purges finish. A claim that lapses unreleased is taken as a purge numbered when it
    is next met.

:data:`CLAIM` grants a reference only while no value names it and no other purger's claim
holds it; the set script refuses a reference while a claim holds it, or when a purge numbered
above the writer's ``restored_after`` removed it (:class:`~taskstate.errors.PurgePendingError`),
exactly as the metastore's guarded upsert does (:mod:`taskstate.backends._purge_guard`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from taskstate.backends._redis_scripts import LUA_HELPERS

__all__ = ["BUILD_INDEX", "CLAIM", "RELEASE", "PurgeKeys", "ref_id"]

_NOW = """
local now_t = redis.call('TIME')
local now = tonumber(now_t[1]) * 1000000 + tonumber(now_t[2])
"""

# KEYS: the reference index. ARGV: the prefix of purge marks, the claim,
# seconds it lasts, seconds a finished purge is remembered, then reference ids. Returns, per
# id, a :class:`~taskstate.state.backend.ClaimAnswer`: 1 granted, 0 live, 2 held.
CLAIM = (
    _NOW
    + """
local out = {}
local until_us = string.format('%.0f', now + tonumber(ARGV[3]) * 1000000)
local ttl = (tonumber(ARGV[3]) + tonumber(ARGV[4])) * 1000
for i = 5, #ARGV do
  local status = 1
  local mark_key = ARGV[1] .. ARGV[i]
  if redis.call('HEXISTS', KEYS[1], ARGV[i]) == 1 then
    status = 0
  else
    local m = redis.call('GET', mark_key)
    local holder, held_until = nil, nil
    if m then holder, held_until = string.match(m, '^c:([^:]+):(%d+)$') end
    if holder and holder ~= ARGV[2] and tonumber(held_until) >= now then
      status = 2
    elseif holder ~= ARGV[2] then
      -- A purge or lapsed claim before is covered: this claim is met, or numbered, later.
      redis.call('SET', mark_key, 'c:' .. ARGV[2] .. ':' .. until_us, 'PX', ttl)
    end
  end
  out[#out + 1] = status
end
return out
"""
)

# KEYS: the purge number. ARGV: the prefix of purge marks, the claim, seconds a finished purge
# is remembered, then reference ids. Each reference the claim still holds is marked purged,
# numbered now. Returns the newest number given ('0' if none).
RELEASE = """
local last = 0
for i = 4, #ARGV do
  local mark_key = ARGV[1] .. ARGV[i]
  local m = redis.call('GET', mark_key)
  if m and string.match(m, '^c:([^:]+):') == ARGV[2] then
    last = redis.call('INCR', KEYS[1])
    redis.call('SET', mark_key, 'p:' .. last, 'EX', ARGV[3])
  end
end
return string.format('%.0f', last)
"""

# KEYS: the reference index, its built marker. ARGV: the patterns of task and asset hashes.
# Counts every reference the hashes hold, once; returns how many (-1: already built).
BUILD_INDEX = (
    LUA_HELPERS
    + """
if redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
redis.call('DEL', KEYS[1])
local n = 0
for i = 1, #ARGV do
  local cursor = '0'
  repeat
    local page = redis.call('SCAN', cursor, 'MATCH', ARGV[i], 'COUNT', 1000, 'TYPE', 'hash')
    cursor = page[1]
    for _, hash in ipairs(page[2]) do
      for _, value in ipairs(redis.call('HVALS', hash)) do
        local id = ref_id(value)
        if id then
          redis.call('HINCRBY', KEYS[1], id, 1)
          n = n + 1
        end
      end
    end
  until cursor == '0'
end
redis.call('SET', KEYS[2], '1')
return n
"""
)


def ref_id(ref_backend: str, data: str) -> str:
    """A reference's id in the index and in its purge mark's key."""
    return f"{len(ref_backend)}:{ref_backend}{data}"


class PurgeKeys:
    """The keys and arguments of the purge scripts under one prefix."""

    def __init__(self, prefix: str, glob_prefix: str) -> None:
        self.index = f"{prefix}:refs"
        self.built = f"{prefix}:refs:built"
        self.seq = f"{prefix}:purge:seq"
        self.marks = f"{prefix}:purge:"
        self._patterns = [f"{glob_prefix}:task:*", f"{glob_prefix}:asset:*"]

    def build(self) -> dict[str, Any]:
        return {"keys": [self.index, self.built], "args": self._patterns}

    def claim(
        self, claim: str, seconds: int, remember: int, refs: Sequence[tuple[str, str]]
    ) -> dict[str, Any]:
        ids = [ref_id(backend, data) for backend, data in refs]
        return {
            "keys": [self.index],
            "args": [self.marks, claim, str(seconds), str(remember), *ids],
        }

    def release(self, claim: str, remember: int, refs: Sequence[tuple[str, str]]) -> dict[str, Any]:
        ids = [ref_id(backend, data) for backend, data in refs]
        return {"keys": [self.seq], "args": [self.marks, claim, str(remember), *ids]}
