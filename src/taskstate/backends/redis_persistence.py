"""Whether a Redis server keeps what it acknowledged: checked once, when the backend is built.

A Redis without persistence (``appendonly no`` and an empty ``save``) keeps its data only in
memory: a restart of the server loses every value, silently, after the API server answered
that it was stored. :func:`check_persistence` asks the server (``CONFIG GET``, or ``INFO
persistence`` where CONFIG is renamed or not permitted, as on managed services) and refuses such
a server with :class:`~taskstate.errors.VolatileBackendError`. What each mode survives:

- AOF (``appendonly yes``): with ``appendfsync always`` every acknowledged write survives a
  crash and a power loss; with ``everysec`` (Redis's default) up to about a second of writes
  may be lost on a power loss or a crash of the server; with ``no`` the kernel decides when.
- RDB only (``save`` points): the writes since the last snapshot are lost on any crash.
"""

from __future__ import annotations

from typing import cast

import redis
from redis.exceptions import RedisError, ResponseError

from taskstate.errors import BackendError, VolatileBackendError

__all__ = ["check_persistence"]

_HOW_TO_FIX = (
    "turn persistence on in the server (appendonly yes in redis.conf, or CONFIG SET appendonly "
    "yes then CONFIG REWRITE), or, if losing every value on a Redis restart is acceptable, give "
    "the backend the option allow_volatile = true (in [state_store] backend_kwargs)"
)


def check_persistence(client: redis.Redis, masked_url: str) -> str:
    """How the server at ``masked_url`` persists its data, e.g. ``"AOF (appendfsync everysec)"``.

    Raises :class:`VolatileBackendError` when it does not, or when that cannot be told, and
    :class:`BackendError` when the server cannot be asked.
    """
    try:
        try:
            config = _config(client)
        except ResponseError:  # CONFIG renamed or not permitted: INFO tells whether AOF is on
            info = client.info("persistence")
            if str(info.get("aof_enabled", "0")) == "1":
                return "AOF"
            raise VolatileBackendError(
                f"cannot tell whether Redis at {masked_url} persists its data: CONFIG GET is "
                "refused and INFO persistence shows no AOF (RDB snapshots cannot be seen "
                f"without CONFIG); {_HOW_TO_FIX}",
                detail={"url": masked_url, "aof_enabled": False, "save": None},
            ) from None
    except RedisError as exc:
        reason = " ".join(str(exc).split()) or type(exc).__name__
        raise BackendError(
            f"cannot check the persistence of Redis at {masked_url}: {reason}",
            detail={"url": masked_url, "error": type(exc).__name__},
        ) from exc
    aof = config.get("appendonly", "no") == "yes"
    save = config.get("save", "").strip()
    modes = []
    if aof:
        modes.append(f"AOF (appendfsync {config.get('appendfsync', 'everysec')})")
    if save:
        modes.append(f"RDB snapshots (save {save})")
    if not modes:
        raise VolatileBackendError(
            f'Redis at {masked_url} keeps its data only in memory (appendonly no, save ""): a '
            f"restart of the server would lose every acknowledged write; {_HOW_TO_FIX}",
            detail={"url": masked_url, "appendonly": False, "save": ""},
        )
    return " and ".join(modes)


def _config(client: redis.Redis) -> dict[str, str]:
    found: dict[str, str] = {}
    for name in ("appendonly", "appendfsync", "save"):
        found.update(cast("dict[str, str]", client.config_get(name)))
    return found
