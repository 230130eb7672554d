"""The supervisor's client of the execution API: one persistent connection, one token."""

from __future__ import annotations

import httpx
import msgspec

from taskstate.api.wire import (
    FinishRequest,
    FinishResponse,
    HeartbeatResponse,
    RemovedRefsBody,
    StartRequest,
    StartResponse,
    StateBody,
)
from taskstate.client._http import check, key_path, translate_errors

__all__ = ["ExecutionClient"]

_JSON = {"content-type": "application/json"}


class ExecutionClient:
    """Calls the ``/execution`` routes with the token of one task instance."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.Client(
            base_url=self.base_url + "/execution",
            timeout=timeout,
            transport=transport,
            headers={"authorization": f"Bearer {token}"},
        )
        self._state_body = msgspec.json.Decoder(StateBody)

    def set_token(self, token: str) -> None:
        self._http.headers["authorization"] = f"Bearer {token}"

    def close(self) -> None:
        self._http.close()

    def _send(self, method: str, url: str, **kwargs: object) -> httpx.Response:
        with translate_errors(self.base_url):
            return check(self._http.request(method, url, **kwargs))  # type: ignore[arg-type]

    # -- lifecycle -------------------------------------------------------------------------

    def start(self, ti_id: str, *, pid: int, hostname: str) -> StartResponse:
        body = msgspec.json.encode(StartRequest(pid=pid, hostname=hostname))
        response = self._send(
            "POST", f"/task-instances/{ti_id}/start", content=body, headers=_JSON
        )
        return msgspec.json.decode(response.content, type=StartResponse)

    def heartbeat(self, ti_id: str) -> HeartbeatResponse:
        response = self._send("POST", f"/task-instances/{ti_id}/heartbeat")
        return msgspec.json.decode(response.content, type=HeartbeatResponse)

    def finish(self, ti_id: str, state: str, reason: str | None = None) -> str:
        body = msgspec.json.encode(FinishRequest(state=state, reason=reason))  # type: ignore[arg-type]
        response = self._send(
            "POST", f"/task-instances/{ti_id}/finish", content=body, headers=_JSON
        )
        return msgspec.json.decode(response.content, type=FinishResponse).state

    # -- task state ------------------------------------------------------------------------

    def get_task_state(self, ti_id: str, key: str) -> StateBody:
        response = self._send("GET", f"/state/ti/{ti_id}/{key_path(key)}")
        return self._state_body.decode(response.content)

    def set_task_state(self, ti_id: str, key: str, data: bytes, ref_backend: str | None) -> None:
        self._send(
            "PUT",
            f"/state/ti/{ti_id}/{key_path(key)}",
            content=_state_payload(data, ref_backend),
            headers=_JSON,
        )

    def delete_task_state(self, ti_id: str, key: str) -> StateBody:
        response = self._send("DELETE", f"/state/ti/{ti_id}/{key_path(key)}")
        return self._state_body.decode(response.content)

    def clear_task_state(self, ti_id: str) -> RemovedRefsBody:
        response = self._send("DELETE", f"/state/ti/{ti_id}")
        return msgspec.json.decode(response.content, type=RemovedRefsBody)

    # -- asset state -----------------------------------------------------------------------

    def get_asset_state(self, asset: str, key: str) -> StateBody:
        response = self._send("GET", f"/state/asset/{key_path(key)}", params={"name": asset})
        return self._state_body.decode(response.content)

    def set_asset_state(self, asset: str, key: str, data: bytes, ref_backend: str | None) -> None:
        self._send(
            "PUT",
            f"/state/asset/{key_path(key)}",
            params={"name": asset},
            content=_state_payload(data, ref_backend),
            headers=_JSON,
        )

    def delete_asset_state(self, asset: str, key: str) -> StateBody:
        response = self._send("DELETE", f"/state/asset/{key_path(key)}", params={"name": asset})
        return self._state_body.decode(response.content)

    def clear_asset_state(self, asset: str) -> RemovedRefsBody:
        response = self._send("DELETE", "/state/asset", params={"name": asset})
        return msgspec.json.decode(response.content, type=RemovedRefsBody)


def _state_payload(data: bytes, ref_backend: str | None) -> bytes:
    if ref_backend is None:
        return msgspec.json.encode(StateBody(value=msgspec.Raw(data)))
    return msgspec.json.encode(StateBody(ref=data.decode(), backend=ref_backend))
