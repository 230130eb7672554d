"""The supervisor's client of the execution API: one persistent connection, one token."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import quote, urlencode

import msgspec

from taskstate.client._common import error_for, key_path
from taskstate.client._connection import KeepAliveConnection
from taskstate.client._retry import RetryingConnection, RetryPolicy
from taskstate.contracts.http import (
    AssetEventsBody,
    FinishRequest,
    FinishResponse,
    HeartbeatResponse,
    OutputBody,
    PurgedBody,
    RecordAssetEventsBody,
    RecordedAssetEvent,
    RemovedRefsBody,
    StartRequest,
    StartResponse,
    StateBody,
    XComValuesBody,
)
from taskstate.contracts.scopes import ApiScope, TaskInstanceId

__all__ = ["ExecutionClient"]


class ExecutionClient:
    """Calls the ``/execution`` routes with the token of one task instance."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
    ) -> None:
        """``retry``: how transient failures are retried (see ``client._retry``); None: never."""
        self.base_url = base_url.rstrip("/")
        conn = KeepAliveConnection(self.base_url, timeout=timeout)
        self._conn: KeepAliveConnection | RetryingConnection
        self._conn = conn if retry is None else RetryingConnection(conn, retry)
        self._headers = {"content-type": "application/json"}
        self.set_token(token)
        self._state_body = msgspec.json.Decoder(StateBody)
        self._removed_body = msgspec.json.Decoder(RemovedRefsBody)

    def set_token(self, token: str) -> None:
        self._headers["authorization"] = f"Bearer {token}"

    def close(self) -> None:
        self._conn.close()

    def _send(
        self, method: str, path: str, body: bytes | None = None, if_version: int | None = None
    ) -> bytes:
        headers = self._headers
        if if_version is not None:
            headers = {**headers, **_precondition(if_version)}
        status, content = self._conn.request(method, "/execution" + path, body, headers)
        if status >= 300:
            raise error_for(status, content, f"{method} {path}")
        return content

    # -- lifecycle -------------------------------------------------------------------------

    def start(self, ti_id: str, *, pid: int, hostname: str) -> StartResponse:
        body = msgspec.json.encode(StartRequest(pid=pid, hostname=hostname))
        content = self._send("POST", f"/task-instances/{ti_id}/start", body)
        return msgspec.json.decode(content, type=StartResponse)

    def heartbeat(self, ti_id: str) -> HeartbeatResponse:
        content = self._send("POST", f"/task-instances/{ti_id}/heartbeat", b"")
        return msgspec.json.decode(content, type=HeartbeatResponse)

    def finish(
        self, ti_id: str, state: str, reason: str | None = None, *, retry: bool = True
    ) -> str:
        """End the running try as ``success``, ``skipped`` or ``failed`` (retried when
        retries are left, unless ``retry`` is false); the state the task instance is in."""
        finish = FinishRequest(state=state, reason=reason, retry=retry)  # type: ignore[arg-type]
        content = self._send("POST", f"/task-instances/{ti_id}/finish", msgspec.json.encode(finish))
        return msgspec.json.decode(content, type=FinishResponse).state

    # -- state: of the token's task instance, or of an asset its task declares --------------

    def get_state(self, scope: ApiScope, key: str) -> StateBody:
        return self._state_body.decode(self._send("GET", _state_path(scope, key)))

    def set_state(
        self,
        scope: ApiScope,
        key: str,
        data: bytes,
        ref_backend: str | None,
        *,
        retention: float | str | None = None,
        if_version: int | None = None,
        encryption: str | None = None,
        restored_after: int = 0,
    ) -> int:
        """Store ``data`` (JSON text, or a reference written by ``ref_backend``); the version
        the key got (0 with a backend that keeps none).

        ``retention`` is in its wire form: seconds, ``"never"``, or None for the server's default.
        With ``if_version``, only if the key is at that version (0: does not exist), else
        VersionConflictError. ``encryption``: the id of the key the task process encrypted the
        value with.
        """
        version, _ = self.set_state_replacing(
            scope,
            key,
            data,
            ref_backend,
            retention=retention,
            if_version=if_version,
            encryption=encryption,
            restored_after=restored_after,
        )
        return version

    def set_state_replacing(
        self,
        scope: ApiScope,
        key: str,
        data: bytes,
        ref_backend: str | None,
        *,
        retention: float | str | None = None,
        if_version: int | None = None,
        encryption: str | None = None,
        restored_after: int = 0,
    ) -> tuple[int, RemovedRefsBody]:
        """:meth:`set_state`, and the references the write replaced that the caller is to purge
        under the answer's claim (a set of a reference only)."""
        payload = _state_payload(data, ref_backend, retention, encryption, restored_after)
        content = self._send("PUT", _state_path(scope, key), payload, if_version)
        etag = self._conn.last_etag
        replaced = self._removed_body.decode(content) if content else RemovedRefsBody(refs=[])
        return (int(etag.strip('"')) if etag else 0), replaced

    def delete_state(
        self, scope: ApiScope, key: str, *, if_version: int | None = None
    ) -> StateBody:
        content = self._send("DELETE", _state_path(scope, key), None, if_version)
        return self._state_body.decode(content)

    def clear_state(self, scope: ApiScope) -> RemovedRefsBody:
        return self._removed_body.decode(self._send("DELETE", _state_path(scope, None)))

    def purged(self, claim: str) -> int:
        """Report the objects of purge claim ``claim`` removed; the newest purge's number."""
        content = self._send("POST", f"/state/purged/{_q(claim)}", b"")
        return msgspec.json.decode(content, type=PurgedBody).purged_through

    # -- task outputs ----------------------------------------------------------------------

    def set_task_output(self, ti_id: str, data: bytes) -> None:
        """Store the output (JSON text) of the token's try, which must be running."""
        body = msgspec.json.encode(OutputBody(value=msgspec.Raw(data)))
        self._send("PUT", f"/outputs/ti/{ti_id}", body)

    def get_task_output(self, dag_id: str, run_id: str, task_id: str) -> OutputBody:
        """The output of a task of the token's own run; the server refuses other runs."""
        path = f"/outputs/{key_path(dag_id)}/{key_path(run_id)}/{key_path(task_id)}"
        return msgspec.json.decode(self._send("GET", path), type=OutputBody)

    # -- XComs -----------------------------------------------------------------------------

    def push_xcom(self, ti_id: str, key: str, data: bytes) -> None:
        """Store XCom ``key`` (JSON text, ``null`` allowed) of the token's running try."""
        body = msgspec.json.encode(OutputBody(value=msgspec.Raw(data)))
        self._send("PUT", f"/task-instances/{ti_id}/xcoms/{key_path(key)}", body)

    def pull_xcom(
        self,
        task_id: str,
        key: str,
        map_indexes: list[int] | None = None,
        *,
        dag_id: str | None = None,
        run_id: str | None = None,
    ) -> list[bytes | None]:
        """XCom ``key`` of a task of the token's own run, as JSON texts (None where missing
        or null): at each of ``map_indexes``, or of every instance that has it."""
        params = [("map_index", str(i)) for i in map_indexes or ()]
        params += [(k, v) for k, v in (("dag_id", dag_id), ("run_id", run_id)) if v is not None]
        query = "?" + urlencode(params) if params else ""
        content = self._send("GET", f"/xcoms/{key_path(task_id)}/{key_path(key)}{query}")
        values = msgspec.json.decode(content, type=XComValuesBody).values
        return [None if bytes(v) == b"null" else bytes(v) for v in values]

    # -- asset events ----------------------------------------------------------------------

    def record_asset_events(
        self,
        ti_id: str,
        events: list[tuple[str, bytes]],
        alias_events: Sequence[tuple[str, str, str, bytes]] = (),
    ) -> None:
        """Record events (asset name, extra as JSON text) of the token's running try on
        assets its task declares as outlets, then ``alias_events`` (alias, asset name, uri,
        extra) through aliases it declares as outlets."""
        body = RecordAssetEventsBody(
            events=[RecordedAssetEvent(asset=a, extra=msgspec.Raw(e)) for a, e in events]
            + [
                RecordedAssetEvent(asset=name, extra=msgspec.Raw(e), uri=uri, alias=alias)
                for alias, name, uri, e in alias_events
            ]
        )
        self._send("POST", f"/task-instances/{ti_id}/asset-events", msgspec.json.encode(body))

    def get_asset_events(
        self,
        asset: str,
        *,
        limit: int | None = None,
        ascending: bool = True,
        after: str | None = None,
        before: str | None = None,
    ) -> AssetEventsBody:
        """Events of an asset the token's task declares, oldest first unless not
        ``ascending``."""
        params: list[tuple[str, str]] = [("name", asset)]
        if limit is not None:
            params.append(("limit", str(limit)))
        if not ascending:
            params.append(("ascending", "false"))
        params += [(k, v) for k, v in (("after", after), ("before", before)) if v is not None]
        content = self._send("GET", "/asset-events?" + urlencode(params))
        return msgspec.json.decode(content, type=AssetEventsBody)


def _q(value: str) -> str:
    return quote(value, safe="")


def _precondition(if_version: int) -> dict[str, str]:
    if if_version == 0:
        return {"if-none-match": "*"}
    return {"if-match": f'"{if_version}"'}


def _state_path(scope: ApiScope, key: str | None) -> str:
    """The path of ``key`` in ``scope``, or of the whole scope when ``key`` is None."""
    if isinstance(scope, TaskInstanceId):
        if key is None:
            return f"/state/ti/{scope.id}"
        return f"/state/ti/{scope.id}/{key_path(key)}"
    if key is None:
        return f"/state/asset?name={_q(scope.name)}"
    return f"/state/asset/{key_path(key)}?name={_q(scope.name)}"


def _state_payload(
    data: bytes,
    ref_backend: str | None,
    retention: float | str | None,
    encryption: str | None = None,
    restored_after: int = 0,
) -> bytes:
    body: Any
    if ref_backend is None:
        body = StateBody(value=msgspec.Raw(data), encryption=encryption, retention=retention)
    else:
        body = StateBody(
            ref=data.decode(),
            backend=ref_backend,
            encryption=encryption,
            retention=retention,
            restored_after=restored_after,
        )
    return msgspec.json.encode(body)
