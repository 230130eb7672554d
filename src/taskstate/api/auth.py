"""Credentials of the API server.

* **Task-instance tokens** (execution API): signed JWTs that expire and name exactly one task
  instance, with its scope, the try it was issued for and the assets its task declares. A
  supervisor holds the token of its own task instance only; the heartbeat hands it a fresh one
  (for the same try) before it expires. The try makes every state write name its writer.
* **API keys** (public API): opaque bearer keys from ``[api] api_keys``. A task-instance token
  presented there is recognised and refused with 403, anything else with 401.

Verified tokens are cached (by their text, until they expire), so the hot path does not pay for
a signature check on every call.
"""

from __future__ import annotations

import hmac
import time
from collections import OrderedDict
from collections.abc import Iterable

import jwt
import msgspec

from taskstate.errors import NotAuthenticatedError, PermissionDeniedError, UndeclaredAssetError
from taskstate.state.provenance import task_writer
from taskstate.state.types import AssetScope, TaskScope

__all__ = ["ApiKeys", "TokenClaims", "TokenSigner", "bearer", "token_claims"]

_ALGORITHM = "HS256"
_AUDIENCE = "taskstate:execution"
_CACHE_SIZE = 4096


class TokenClaims(msgspec.Struct, frozen=True):
    """What a task-instance token grants."""

    ti_id: str
    scope: TaskScope
    assets: dict[str, str]  # asset name -> uri, for every asset the task declares
    expires_at: float
    try_number: int
    written_by: str
    """The ``written_by`` of this try's state writes, built once when the token is verified."""

    def require_ti(self, ti_id: str) -> None:
        if ti_id != self.ti_id:
            raise PermissionDeniedError(
                "this token grants another task instance", detail={"ti_id": ti_id}
            )

    def asset_scope(self, name: str | None, uri: str | None) -> AssetScope:
        """The scope of a declared asset, named by ``name`` or ``uri``."""
        if name is None and uri is not None:
            name = next((n for n, u in self.assets.items() if u == uri), None)
            if name is None:
                raise UndeclaredAssetError(
                    f"task {self.scope.task_id!r} does not declare an asset with uri {uri!r}",
                    detail={"uri": uri},
                )
        if name is None:
            raise UndeclaredAssetError("name the asset with ?name= or ?uri=")
        if name not in self.assets:
            raise UndeclaredAssetError(
                f"task {self.scope.task_id!r} does not declare asset {name!r} as an inlet or "
                "outlet",
                detail={"asset": name},
            )
        return AssetScope(name)


class TokenSigner:
    """Issues and verifies task-instance tokens with one secret key."""

    def __init__(self, secret_key: str, *, ttl_seconds: int) -> None:
        self._key = secret_key
        self.ttl_seconds = ttl_seconds
        self._cache: OrderedDict[str, TokenClaims] = OrderedDict()

    def issue(
        self, ti_id: str, scope: TaskScope, assets: dict[str, str], *, try_number: int
    ) -> str:
        """A token for try ``try_number`` of the task instance ``ti_id``."""
        now = int(time.time())
        payload = {
            "sub": ti_id,
            "aud": _AUDIENCE,
            "iat": now,
            "exp": now + self.ttl_seconds,
            "dag_id": scope.dag_id,
            "run_id": scope.run_id,
            "task_id": scope.task_id,
            "map_index": scope.map_index,
            "try_number": try_number,
            "assets": assets,
        }
        return jwt.encode(payload, self._key, algorithm=_ALGORITHM)

    def verify(self, token: str) -> TokenClaims:
        cached = self._cache.get(token)
        if cached is not None:
            if cached.expires_at > time.time():
                return cached
            del self._cache[token]
        try:
            payload = jwt.decode(token, self._key, algorithms=[_ALGORITHM], audience=_AUDIENCE)
            scope = TaskScope(
                payload["dag_id"], payload["run_id"], payload["task_id"], payload["map_index"]
            )
            try_number = int(payload["try_number"])
            claims = TokenClaims(
                ti_id=payload["sub"],
                scope=scope,
                assets=dict(payload["assets"]),
                expires_at=float(payload["exp"]),
                try_number=try_number,
                written_by=task_writer(scope, try_number),
            )
        except jwt.ExpiredSignatureError as exc:
            raise NotAuthenticatedError("the task-instance token has expired") from exc
        except (jwt.InvalidTokenError, KeyError, TypeError, ValueError) as exc:
            raise NotAuthenticatedError("invalid task-instance token") from exc
        self._cache[token] = claims
        if len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)
        return claims

    def is_token(self, credential: str) -> bool:
        """Whether ``credential`` is a valid task-instance token of this server."""
        try:
            self.verify(credential)
        except NotAuthenticatedError:
            return False
        return True


class ApiKeys:
    """The bearer keys of the public API, compared in constant time."""

    def __init__(self, keys: Iterable[str]) -> None:
        self._keys = [k.encode() for k in keys if k]

    def check(self, credential: str | None, signer: TokenSigner) -> None:
        if credential is None:
            raise NotAuthenticatedError(
                "the public API needs an API key: send 'Authorization: Bearer <key>'"
            )
        given = credential.encode()
        if any(hmac.compare_digest(given, key) for key in self._keys):
            return
        if signer.is_token(credential):
            raise PermissionDeniedError(
                "a task-instance token cannot be used on the public API; use an API key"
            )
        raise NotAuthenticatedError("invalid API key")


def bearer(authorization: str | None) -> str | None:
    """The credential of an ``Authorization: Bearer ...`` header, or None."""
    if not authorization:
        return None
    scheme, _, credential = authorization.partition(" ")
    if scheme.lower() != "bearer" or not credential.strip():
        return None
    return credential.strip()


def token_claims(authorization: str | None, signer: TokenSigner) -> TokenClaims:
    """What the task-instance token of an ``Authorization`` header grants."""
    credential = bearer(authorization)
    if credential is None:
        raise NotAuthenticatedError(
            "the execution API needs a task-instance token: 'Authorization: Bearer <token>'"
        )
    return signer.verify(credential)
