"""The Lua scripts of ``RedisStateBackend``: each operation but a read is one atomic script.

See :mod:`taskstate.backends.redis` for the data layout. Scripts that write check, in the same
step, the writer's try (its ``P:try:<ti_id>`` key) and the version the write names, and assign
the key's version from Redis's clock. Every script that adds or removes a reference keeps the
reference index ``P:refs`` in step, and a set of a reference meets the purges of it (see
:mod:`taskstate.backends._redis_purges`).
"""

from __future__ import annotations

__all__ = [
    "CLEAR",
    "CLEAR_FENCED",
    "CLEAR_TASK",
    "DELETE",
    "EXPIRE",
    "LUA_HELPERS",
    "RECORD_TRY",
    "SET",
]

# The expiry index's member of a hash field, and whether a value carries an expiry. A reference's
# id, ``<len>:<ref_backend><data>``, is the end of its value, after the writer and the key id;
# the reference index counts, per id, the values that name it.
LUA_HELPERS = """
local function member(hash, field) return string.len(hash) .. ':' .. hash .. field end
local function expires(value) return string.match(value, '^[vr]%d+e(%d+)') end
local function ref_id(value)
  if string.byte(value, 1) ~= 114 then return nil end
  local colon = string.find(value, ':', 1, true)
  local header = string.sub(value, 1, colon - 1)
  local w = tonumber(string.match(header, 'w(%d+)') or '0')
  local c = tonumber(string.match(header, 'c(%d+)') or '0')
  return string.sub(value, colon + 1 + w + c)
end
local function uncount(refs, value)
  local id = ref_id(value)
  if id and redis.call('HINCRBY', refs, id, -1) <= 0 then redis.call('HDEL', refs, id) end
end
"""
_LUA_HELPERS = LUA_HELPERS

# Refusals of a write, as {code, detail}: {1, the try key's text} when the writer's try is
# not the latest in flight of its task instance (KEYS[3] its try key, ``try`` its number, ''
# for a write of no try); {2, the version found} when the key is not at the version named.
_LUA_CHECKS = """
local now_t = redis.call('TIME')
local now = tonumber(now_t[1]) * 1000000 + tonumber(now_t[2])
local function fmt(n) return string.format('%.0f', n) end
local function stale(try_key, try)
  if try == '' then return nil end
  local t = redis.call('GET', try_key)
  if not t then return {1, ''} end
  local n, phase = string.match(t, '^(%d+):(%d)$')
  if n ~= try or phase == '3' then return {1, t} end
  return nil
end
local function version_of(value)
  return tonumber(string.match(value, '^[vr][%dew]*n(%d+)') or '1')
end
local function live(value)
  local e = expires(value)
  return not (e and tonumber(e) <= now)
end
local function conflict(value, wanted)
  if wanted == '' then return nil end
  local current = 0
  if value and live(value) then current = version_of(value) end
  if current ~= tonumber(wanted) then return {2, fmt(current)} end
  return nil
end
-- {3, claimed ('1' or '0'), purge number} when a purge stands between a writer that stored its
-- object (having seen purges up to restored_after) and the reference it writes. A claim that
-- lapsed unreleased may have removed the object: it becomes a purge numbered now.
local function purged(mark_key, seq_key, restored_after)
  local m = redis.call('GET', mark_key)
  if not m then return nil end
  local seq = string.match(m, '^p:(%d+)$')
  if not seq then
    if tonumber(string.match(m, '^c:[^:]+:(%d+)$') or '0') >= now then return {3, '1', '0'} end
    seq = redis.call('INCR', seq_key)
    redis.call('SET', mark_key, 'p:' .. seq, 'KEEPTTL')
  end
  if tonumber(seq) > restored_after then return {3, '0', fmt(tonumber(seq))} end
  return nil
end
"""

# KEYS: the scope's hash, the expiry index, the writer's try key, the reference index, the
# purge number[, its task's index set]. ARGV: field, header, the rest of the value, expiry (µs;
# '' if none), if_version, try, the reference's id ('' for a value), restored_after, the prefix
# of purge marks.
# The version is max(old + 1, Redis's clock in µs). Returns {0, version, the value it replaced
# ('' if none)} or a refusal.
SET = (
    _LUA_HELPERS
    + _LUA_CHECKS
    + """
local refused = stale(KEYS[3], ARGV[6])
if refused then return refused end
local old = redis.call('HGET', KEYS[1], ARGV[1])
refused = conflict(old, ARGV[5])
if refused then return refused end
if ARGV[7] ~= '' then
  refused = purged(ARGV[9] .. ARGV[7], KEYS[5], tonumber(ARGV[8]))
  if refused then return refused end
end
local version = now
if old then version = math.max(version_of(old) + 1, now) end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. 'n' .. fmt(version) .. ARGV[3])
if ARGV[4] == '' then
  redis.call('ZREM', KEYS[2], member(KEYS[1], ARGV[1]))
else
  redis.call('ZADD', KEYS[2], ARGV[4], member(KEYS[1], ARGV[1]))
end
if ARGV[7] ~= '' then redis.call('HINCRBY', KEYS[4], ARGV[7], 1) end
if old then uncount(KEYS[4], old) end
if KEYS[6] then redis.call('SADD', KEYS[6], KEYS[1]) end
return {0, fmt(version), old or ''}
"""
)

# KEYS: the scope's hash, the expiry index, the writer's try key, the reference index[, its
# task's index set]. ARGV: field, if_version, try. Returns {0, the removed value, expired or
# not ('' if none)} or a refusal.
DELETE = (
    _LUA_HELPERS
    + _LUA_CHECKS
    + """
local refused = stale(KEYS[3], ARGV[3])
if refused then return refused end
local value = redis.call('HGET', KEYS[1], ARGV[1])
refused = conflict(value, ARGV[2])
if refused then return refused end
if value then
  redis.call('HDEL', KEYS[1], ARGV[1])
  uncount(KEYS[4], value)
  if expires(value) then redis.call('ZREM', KEYS[2], member(KEYS[1], ARGV[1])) end
  if KEYS[5] and redis.call('EXISTS', KEYS[1]) == 0 then
    redis.call('SREM', KEYS[5], KEYS[1])
  end
end
return {0, value or ''}
"""
)

# KEYS: a task instance's try key. ARGV: try number, phase (1 queued, 2 running, 3 ended),
# seconds an ended try's key is kept. A later try, or a later phase of the same try, replaces
# what is there; nothing goes back.
RECORD_TRY = """
local t = redis.call('GET', KEYS[1])
if t then
  local n, phase = string.match(t, '^(%d+):(%d)$')
  local try, next_phase = tonumber(ARGV[1]), tonumber(ARGV[2])
  n, phase = tonumber(n), tonumber(phase)
  if try < n or (try == n and next_phase <= phase) then return 0 end
end
if ARGV[2] == '3' then
  redis.call('SET', KEYS[1], ARGV[1] .. ':' .. ARGV[2], 'EX', ARGV[3])
else
  redis.call('SET', KEYS[1], ARGV[1] .. ':' .. ARGV[2])
end
return 1
"""

# Deletes one hash, unfiling its expiring fields and uncounting its references; appends its
# references to refs.
_LUA_DROP_HASH = """
local function drop(hash, index, ref_index, refs)
  local fields = redis.call('HGETALL', hash)
  for i = 1, #fields, 2 do
    local value = fields[i + 1]
    if string.byte(value, 1) == 114 then
      refs[#refs + 1] = value
      uncount(ref_index, value)
    end
    if expires(value) then redis.call('ZREM', index, member(hash, fields[i])) end
  end
  redis.call('DEL', hash)
end
"""

# KEYS: the scope's hash, the expiry index, the reference index[, its task's index set].
# Returns the removed refs.
CLEAR = (
    _LUA_HELPERS
    + _LUA_DROP_HASH
    + """
local refs = {}
drop(KEYS[1], KEYS[2], KEYS[3], refs)
if KEYS[4] then redis.call('SREM', KEYS[4], KEYS[1]) end
return refs
"""
)

# KEYS: the scope's hash, the expiry index, the writer's try key, the reference index[, its
# task's index set]. ARGV: the writer's try. As _CLEAR, once the try is found to be the latest
# in flight; returns {0, the removed references...} or a refusal.
CLEAR_FENCED = (
    _LUA_HELPERS
    + _LUA_CHECKS
    + _LUA_DROP_HASH
    + """
local refused = stale(KEYS[3], ARGV[1])
if refused then return refused end
local refs = {0}
drop(KEYS[1], KEYS[2], KEYS[4], refs)
if KEYS[5] then redis.call('SREM', KEYS[5], KEYS[1]) end
return refs
"""
)

# KEYS: a task's index set, the expiry index, the reference index. Clears every map index of
# the task; returns the removed references.
CLEAR_TASK = (
    _LUA_HELPERS
    + _LUA_DROP_HASH
    + """
local refs = {}
for _, hash in ipairs(redis.call('SMEMBERS', KEYS[1])) do drop(hash, KEYS[2], KEYS[3], refs) end
redis.call('DEL', KEYS[1])
return refs
"""
)

# KEYS: the expiry index, the reference index. ARGV: now (µs), limit, the prefix of task hashes.
# Removes up to limit keys expired by now, oldest first. Returns {removed, kind, value, ...}
# with the kind ('task' or 'asset') and value of each removed reference.
EXPIRE = (
    _LUA_HELPERS
    + """
local out = {0}
local now = tonumber(ARGV[1])
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, entry in ipairs(due) do
  local colon = string.find(entry, ':', 1, true)
  local size = tonumber(string.sub(entry, 1, colon - 1))
  local hash = string.sub(entry, colon + 1, colon + size)
  local field = string.sub(entry, colon + size + 1)
  redis.call('ZREM', KEYS[1], entry)
  local value = redis.call('HGET', hash, field)
  local expiry = value and expires(value)
  if expiry and tonumber(expiry) <= now then
    redis.call('HDEL', hash, field)
    out[1] = out[1] + 1
    local task = string.sub(hash, 1, #ARGV[3]) == ARGV[3]
    if string.byte(value, 1) == 114 then
      out[#out + 1] = task and 'task' or 'asset'
      out[#out + 1] = value
      uncount(KEYS[2], value)
    end
    if task and redis.call('EXISTS', hash) == 0 then
      redis.call('SREM', string.match(hash, '^(.*):%-?%d+$') .. ':maps', hash)
    end
  end
end
return out
"""
)
