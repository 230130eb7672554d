"""The supervisor's client of the execution API: one persistent connection, one token."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import msgspec

from taskstate.api.wire import (
    FinishRequest,
    FinishResponse,
    HeartbeatResponse,
    OutputBody,
    RemovedRefsBody,
    StartRequest,
    StartResponse,
    StateBody,
)
from taskstate.client._common import error_for, key_path
from taskstate.client._connection import KeepAliveConnection

__all__ = ["ExecutionClient"]


class ExecutionClient:
    """Calls the ``/execution`` routes with the token of one task instance."""

    def __init__(self, base_url: str, token: str, *, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._conn = KeepAliveConnection(self.base_url, timeout=timeout)
        self._headers = {"content-type": "application/json"}
        self.set_token(token)
        self._state_body = msgspec.json.Decoder(StateBody)
        self._removed_body = msgspec.json.Decoder(RemovedRefsBody)

    def set_token(self, token: str) -> None:
        self._headers["authorization"] = f"Bearer {token}"

    def close(self) -> None:
        self._conn.close()

    def _send(self, method: str, path: str, body: bytes | None = None) -> bytes:
        status, content = self._conn.request(method, "/execution" + path, body, self._headers)
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

    def finish(self, ti_id: str, state: str, reason: str | None = None) -> str:
        finish = FinishRequest(state=state, reason=reason)  # type: ignore[arg-type]
        content = self._send("POST", f"/task-instances/{ti_id}/finish", msgspec.json.encode(finish))
        return msgspec.json.decode(content, type=FinishResponse).state

    # -- task state ------------------------------------------------------------------------

    def get_task_state(self, ti_id: str, key: str) -> StateBody:
        return self._state_body.decode(self._send("GET", f"/state/ti/{ti_id}/{key_path(key)}"))

    def set_task_state(
        self,
        ti_id: str,
        key: str,
        data: bytes,
        ref_backend: str | None,
        *,
        retention: float | str | None = None,
    ) -> None:
        """Store ``data`` (JSON text, or a reference written by ``ref_backend``).

        ``retention`` is in its wire form: seconds, ``"never"``, or None for the server's default.
        """
        body = _state_payload(data, ref_backend, retention)
        self._send("PUT", f"/state/ti/{ti_id}/{key_path(key)}", body)

    def delete_task_state(self, ti_id: str, key: str) -> StateBody:
        return self._state_body.decode(self._send("DELETE", f"/state/ti/{ti_id}/{key_path(key)}"))

    def clear_task_state(self, ti_id: str) -> RemovedRefsBody:
        return self._removed_body.decode(self._send("DELETE", f"/state/ti/{ti_id}"))

    # -- asset state -----------------------------------------------------------------------

    def get_asset_state(self, asset: str, key: str) -> StateBody:
        return self._state_body.decode(self._send("GET", _asset_path(asset, key)))

    def set_asset_state(
        self,
        asset: str,
        key: str,
        data: bytes,
        ref_backend: str | None,
        *,
        retention: float | str | None = None,
    ) -> None:
        """As :meth:`set_task_state`, for a key of ``asset``."""
        self._send("PUT", _asset_path(asset, key), _state_payload(data, ref_backend, retention))

    def delete_asset_state(self, asset: str, key: str) -> StateBody:
        return self._state_body.decode(self._send("DELETE", _asset_path(asset, key)))

    def clear_asset_state(self, asset: str) -> RemovedRefsBody:
        return self._removed_body.decode(self._send("DELETE", f"/state/asset?name={_q(asset)}"))

    # -- task outputs ----------------------------------------------------------------------

    def set_task_output(self, ti_id: str, data: bytes) -> None:
        """Store the output (JSON text) of the token's try, which must be running."""
        body = msgspec.json.encode(OutputBody(value=msgspec.Raw(data)))
        self._send("PUT", f"/outputs/ti/{ti_id}", body)

    def get_task_output(self, dag_id: str, run_id: str, task_id: str) -> OutputBody:
        """The output of a task of the token's own run; the server refuses other runs."""
        path = f"/outputs/{key_path(dag_id)}/{key_path(run_id)}/{key_path(task_id)}"
        return msgspec.json.decode(self._send("GET", path), type=OutputBody)


def _q(value: str) -> str:
    return quote(value, safe="")


def _asset_path(asset: str, key: str) -> str:
    return f"/state/asset/{key_path(key)}?name={_q(asset)}"


def _state_payload(data: bytes, ref_backend: str | None, retention: float | str | None) -> bytes:
    body: Any
    if ref_backend is None:
        body = StateBody(value=msgspec.Raw(data), retention=retention)
    else:
        body = StateBody(ref=data.decode(), backend=ref_backend, retention=retention)
    return msgspec.json.encode(body)
