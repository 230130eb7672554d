"""The client of the public API (``/api/v1``), used by the runner and the CLI.

Answers are returned as decoded JSON (dicts and lists): the CLI prints them, and the runner
reads a few fields. Every id in a path is quoted as one segment (``key_path``): a run id may be
``..``, which httpx would otherwise resolve away as a dot segment.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from taskstate.client._common import key_path
from taskstate.client._http import check, translate_errors
from taskstate.client._retry import RetryingTransport, RetryPolicy
from taskstate.state.codec import encode_value
from taskstate.state.retention import Retention, retention_to_wire

__all__ = ["PublicClient"]

Json = Any


class PublicClient:
    """Calls the ``/api/v1`` routes with an API key."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        """``retry``: how transient failures are retried (see ``client._retry``); None: never."""
        self.base_url = base_url.rstrip("/")
        if retry is not None:
            transport = RetryingTransport(transport or httpx.HTTPTransport(), retry)
        self._http = httpx.Client(
            base_url=self.base_url + "/api/v1",
            timeout=timeout,
            transport=transport,
            headers={"authorization": f"Bearer {api_key}"},
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PublicClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, method: str, url: str, **kwargs: Any) -> Json:
        with translate_errors(self.base_url):
            response = check(self._http.request(method, url, **kwargs))
        return response.json() if response.content else None

    # -- runs and task instances -----------------------------------------------------------

    def create_run(self, body: dict[str, Any]) -> Json:
        return self._call("POST", "/dag-runs", json=body)

    def list_runs(self, dag_id: str | None = None) -> Json:
        return self._call("GET", "/dag-runs", params=_params(dag_id=dag_id))

    def get_run(self, dag_id: str, run_id: str) -> Json:
        return self._call("GET", f"/dag-runs/{key_path(dag_id)}/{key_path(run_id)}")

    def delete_run(self, dag_id: str, run_id: str, *, force: bool = False) -> Json:
        """Delete a run, its task instances and their state; references go to the purge queue."""
        path = f"/dag-runs/{key_path(dag_id)}/{key_path(run_id)}"
        return self._call("DELETE", path, params={"force": "true"} if force else None)

    def finish_run(
        self,
        dag_id: str,
        run_id: str,
        state: str,
        reason: str | None = None,
        *,
        end_unfinished: bool = False,
    ) -> Json:
        """End the run as ``success`` or ``failed``; ``reason`` says why, when it needs saying.
        With ``end_unfinished``, instances not ended yet end failed for the same reason."""
        body: dict[str, Any] = {"state": state}
        if reason is not None:
            body["reason"] = reason
        if end_unfinished:
            body["end_unfinished"] = True
        return self._call("PATCH", f"/dag-runs/{key_path(dag_id)}/{key_path(run_id)}", json=body)

    def clear_run(
        self,
        dag_id: str,
        run_id: str,
        task_ids: list[str] | None = None,
        *,
        keep_state: bool = True,
    ) -> Json:
        """Make the run's unfinished or failed instances (or every instance of ``task_ids``)
        scheduled again, each for its next try; the answer is the run, as :meth:`get_run`."""
        path = f"/dag-runs/{key_path(dag_id)}/{key_path(run_id)}/clear"
        return self._call("POST", path, json={"task_ids": task_ids, "keep_state": keep_state})

    def queue_task_instance(self, ti_id: str) -> Json:
        """Move a task instance to its next try; the answer holds that try's token."""
        return self._call("POST", f"/task-instances/{key_path(ti_id)}/queue")

    def mark_upstream_failed(self, ti_id: str) -> Json:
        return self._call("POST", f"/task-instances/{key_path(ti_id)}/upstream-failed")

    def get_task_instance(self, ti_id: str) -> Json:
        return self._call("GET", f"/task-instances/{key_path(ti_id)}")

    def list_xcoms(self, ti_id: str) -> Json:
        """The XComs of a task instance: ``[{"key", "value", "updated_at"}]`` by key."""
        return self._call("GET", f"/task-instances/{key_path(ti_id)}/xcom")

    # -- outputs and mapping -----------------------------------------------------------------

    def get_task_output(self, dag_id: str, run_id: str, task_id: str) -> Json:
        """The task's output (a list of its instances' outputs if it is mapped); None if it
        returned nothing."""
        path = f"/dag-runs/{key_path(dag_id)}/{key_path(run_id)}/outputs/{key_path(task_id)}"
        return self._call("GET", path)["value"]

    def expand_task_instance(self, ti_id: str, count: int) -> Json:
        """Replace a mapped task's placeholder with ``count`` instances (0: end it skipped);
        the answer lists the task's instances."""
        path = f"/task-instances/{key_path(ti_id)}/expand"
        return self._call("POST", path, json={"count": count})["task_instances"]

    def skip_task_instance(self, ti_id: str) -> Json:
        return self._call("POST", f"/task-instances/{key_path(ti_id)}/skip")

    def fail_task_instance(self, ti_id: str) -> Json:
        """End a scheduled instance as failed without a try (its mapping failed)."""
        return self._call("POST", f"/task-instances/{key_path(ti_id)}/fail")

    # -- task state ------------------------------------------------------------------------

    def list_task_state(
        self,
        dag_id: str,
        run_id: str | None = None,
        task_id: str | None = None,
        map_index: int | None = None,
    ) -> Json:
        params = _params(dag_id=dag_id, run_id=run_id, task_id=task_id, map_index=map_index)
        return self._call("GET", "/task-state", params=params)

    def get_task_state(
        self, dag_id: str, run_id: str, task_id: str, key: str, map_index: int = -1
    ) -> Json:
        params = _params(dag_id=dag_id, run_id=run_id, task_id=task_id, map_index=map_index)
        return self._call("GET", f"/task-state/{key_path(key)}", params=params)

    def set_task_state(
        self,
        dag_id: str,
        run_id: str,
        task_id: str,
        key: str,
        value: Any,
        map_index: int = -1,
        *,
        retention: Retention = None,
        if_version: int | None = None,
        encryption: str | None = None,
    ) -> Json:
        """Store ``value``; ``retention`` as in a task's ``set`` (None: the server's default).
        With ``if_version``, only if the key is at that version (0: does not exist), else
        PreconditionFailedError. ``encryption``: the id of the key ``value`` (a ciphertext
        string) is encrypted with."""
        params = _params(dag_id=dag_id, run_id=run_id, task_id=task_id, map_index=map_index)
        return self._call(
            "PUT",
            f"/task-state/{key_path(key)}",
            params=params,
            **_value_body(value, retention, if_version, encryption),
        )

    def delete_task_state(
        self,
        dag_id: str,
        run_id: str,
        task_id: str,
        key: str,
        map_index: int = -1,
        *,
        if_version: int | None = None,
    ) -> Json:
        params = _params(dag_id=dag_id, run_id=run_id, task_id=task_id, map_index=map_index)
        path = f"/task-state/{key_path(key)}"
        return self._call("DELETE", path, params=params, headers=_precondition(if_version))

    def clear_task_state(
        self,
        dag_id: str,
        run_id: str,
        task_id: str,
        map_index: int = -1,
        *,
        all_map_indices: bool = False,
    ) -> Json:
        params = _params(
            dag_id=dag_id,
            run_id=run_id,
            task_id=task_id,
            map_index=map_index,
            all_map_indices="true" if all_map_indices else None,
        )
        return self._call("DELETE", "/task-state", params=params)

    # -- asset state -----------------------------------------------------------------------

    def list_assets(self) -> Json:
        """Every asset: ``name``, ``uri``, its number of ``events`` and ``last_event_at``."""
        return self._call("GET", "/assets")

    def list_asset_events(
        self, asset: str, *, limit: int | None = None, before_id: int | None = None
    ) -> Json:
        """A page of the asset's events, newest first; pass the last one's id as
        ``before_id`` for the next page."""
        params = _params(limit=limit, before_id=before_id)
        return self._call("GET", f"/assets/{key_path(asset)}/events", params=params)

    def list_asset_state(self, asset: str) -> Json:
        return self._call("GET", "/asset-state", params={"name": asset})

    def get_asset_state(self, asset: str, key: str) -> Json:
        return self._call("GET", f"/asset-state/{key_path(key)}", params={"name": asset})

    def set_asset_state(
        self,
        asset: str,
        key: str,
        value: Any,
        *,
        retention: Retention = None,
        if_version: int | None = None,
        encryption: str | None = None,
    ) -> Json:
        """Store ``value``; ``retention``, ``if_version`` and ``encryption`` as in
        :meth:`set_task_state`."""
        path = f"/asset-state/{key_path(key)}"
        body = _value_body(value, retention, if_version, encryption)
        return self._call("PUT", path, params={"name": asset}, **body)

    def delete_asset_state(self, asset: str, key: str, *, if_version: int | None = None) -> Json:
        path = f"/asset-state/{key_path(key)}"
        headers = _precondition(if_version)
        return self._call("DELETE", path, params={"name": asset}, headers=headers)

    def clear_asset_state(self, asset: str) -> Json:
        return self._call("DELETE", "/asset-state", params={"name": asset})

    # -- expired keys ------------------------------------------------------------------------

    def count_expired(self) -> int:
        """How many expired keys are still stored, waiting for the clean-up."""
        return int(self._call("GET", "/state/expired")["expired"])

    def clean_expired(self, *, batch_size: int | None = None, dry_run: bool = False) -> Json:
        """Remove one batch of expired keys: ``{"removed": n, "references_queued": m, ...}``."""
        params = _params(batch_size=batch_size, dry_run="true" if dry_run else None)
        return self._call("POST", "/state/clean", params=params)

    # -- the purge queue ---------------------------------------------------------------------

    def list_purge_queue(self, *, limit: int = 100, after: int = 0) -> Json:
        return self._call("GET", "/purge-queue", params={"limit": str(limit), "after": str(after)})

    def claim_purge(self, ids: list[int]) -> Json:
        """``{"entries": [...], "superseded": n}``: the entries whose objects may go now."""
        return self._call("POST", "/purge-queue/claim", json={"ids": ids})

    def release_purge(self, claim: str, ids: list[int] | None = None) -> Json:
        """Report the objects of ``claim`` purged (of the entries ``ids`` only, when given)."""
        body = None if ids is None else {"ids": ids}
        return self._call("POST", f"/purge-queue/claims/{claim}/done", json=body)

    def find_refs(self, backend: str, refs: list[str]) -> list[str]:
        """Which of ``refs``, written by the worker backend ``backend``, are stored anywhere."""
        answer = self._call("POST", "/references/find", json={"backend": backend, "refs": refs})
        return list(answer["found"])


def _value_body(
    value: Any,
    retention: Retention = None,
    if_version: int | None = None,
    encryption: str | None = None,
) -> dict[str, Any]:
    """The request body that stores ``value``, checked here as the server would check it.

    None, NaN and objects that are not JSON fail with InvalidValueError, and a bad retention
    with InvalidRetentionError, before any request, rather than as a ValueError or TypeError
    from httpx's JSON encoder.
    """
    wire = retention_to_wire(retention)
    extra = b"" if wire is None else b',"retention":' + json.dumps(wire).encode()
    if encryption is not None:
        extra += b',"encryption":' + json.dumps(encryption).encode()
    content = b'{"value":' + encode_value(value, max_bytes=0) + extra + b"}"
    headers = {"content-type": "application/json", **_precondition(if_version)}
    return {"content": content, "headers": headers}


def _params(**values: object) -> dict[str, str]:
    return {k: str(v) for k, v in values.items() if v is not None}


def _precondition(if_version: int | None) -> dict[str, str]:
    """The headers that name the version a write expects (none: any)."""
    if if_version is None:
        return {}
    if if_version == 0:
        return {"if-none-match": "*"}
    return {"if-match": f'"{if_version}"'}
