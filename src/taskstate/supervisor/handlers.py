"""One small function per request frame, looked up by the frame's type."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec

from taskstate.client.execution import ExecutionClient
from taskstate.contracts.frames import (
    AssetEventInfo,
    AssetEventsReply,
    ClearState,
    DeleteState,
    GetAssetEvents,
    GetState,
    GetTaskOutput,
    OutputReply,
    PullXCom,
    PurgeDone,
    PurgedReply,
    PushXCom,
    RecordAssetEvents,
    RemovedRefs,
    Reply,
    SetReply,
    SetState,
    SetTaskOutput,
    StateReply,
    TaskStarting,
    XComReply,
)
from taskstate.contracts.http import OutputBody, RemovedRefsBody, StateBody
from taskstate.contracts.scopes import resolve

__all__ = ["HANDLERS", "Handler"]

Handler = Callable[[ExecutionClient, str, Any], Reply | None]


def _state_reply(body: StateBody) -> StateReply:
    if body.ref is not None:
        data, ref_backend = body.ref.encode(), body.backend
    elif body.value is not msgspec.UNSET:
        data, ref_backend = bytes(body.value), None
    else:
        return StateReply()
    return StateReply(
        data,
        ref_backend,
        body.version,
        body.expires_at,
        body.written_by,
        body.encryption,
        body.claim,
    )


def _removed(body: RemovedRefsBody) -> RemovedRefs:
    return RemovedRefs(refs=[(r.ref, r.backend) for r in body.refs], claim=body.claim)


def get_state(client: ExecutionClient, ti_id: str, req: GetState) -> StateReply:
    return _state_reply(client.get_state(resolve(req.scope, ti_id), req.key))


def set_state(client: ExecutionClient, ti_id: str, req: SetState) -> SetReply:
    version, replaced = client.set_state_replacing(
        resolve(req.scope, ti_id),
        req.key,
        req.data,
        req.ref_backend,
        retention=req.retention,
        if_version=req.if_version,
        encryption=req.encryption,
        restored_after=req.restored_after,
    )
    return SetReply(version, [(r.ref, r.backend) for r in replaced.refs], replaced.claim)


def delete_state(client: ExecutionClient, ti_id: str, req: DeleteState) -> StateReply:
    scope = resolve(req.scope, ti_id)
    return _state_reply(client.delete_state(scope, req.key, if_version=req.if_version))


def clear_state(client: ExecutionClient, ti_id: str, req: ClearState) -> RemovedRefs:
    return _removed(client.clear_state(resolve(req.scope, ti_id)))


def purge_done(client: ExecutionClient, ti_id: str, req: PurgeDone) -> PurgedReply:
    return PurgedReply(client.purged(req.claim))


def set_task_output(client: ExecutionClient, ti_id: str, req: SetTaskOutput) -> None:
    client.set_task_output(ti_id, req.data)


def get_task_output(client: ExecutionClient, ti_id: str, req: GetTaskOutput) -> OutputReply:
    body: OutputBody = client.get_task_output(req.dag_id, req.run_id, req.task_id)
    return OutputReply(data=None if body.value is msgspec.UNSET else bytes(body.value))


def task_starting(client: ExecutionClient, ti_id: str, req: TaskStarting) -> None:
    """Nothing for the API server: the supervision arms the try's execution_timeout."""
    return None


def push_xcom(client: ExecutionClient, ti_id: str, req: PushXCom) -> None:
    client.push_xcom(ti_id, req.key, req.data)


def pull_xcom(client: ExecutionClient, ti_id: str, req: PullXCom) -> XComReply:
    values = client.pull_xcom(
        req.task_id, req.key, req.map_indexes, dag_id=req.dag_id, run_id=req.run_id
    )
    return XComReply(values=values)


def record_asset_events(client: ExecutionClient, ti_id: str, req: RecordAssetEvents) -> None:
    client.record_asset_events(ti_id, req.events, req.alias_events)


def get_asset_events(client: ExecutionClient, ti_id: str, req: GetAssetEvents) -> AssetEventsReply:
    body = client.get_asset_events(
        req.asset_name,
        limit=req.limit,
        ascending=req.ascending,
        after=req.after,
        before=req.before,
    )
    return AssetEventsReply(
        events=[
            AssetEventInfo(
                id=e.id,
                asset=e.asset.name,
                uri=e.asset.uri,
                extra=bytes(e.extra),
                source_dag_id=e.source_dag_id,
                source_run_id=e.source_run_id,
                source_task_id=e.source_task_id,
                source_map_index=e.source_map_index,
                timestamp=e.timestamp,
            )
            for e in body.events
        ]
    )


HANDLERS: dict[type, Handler] = {
    GetState: get_state,
    SetState: set_state,
    DeleteState: delete_state,
    ClearState: clear_state,
    PurgeDone: purge_done,
    SetTaskOutput: set_task_output,
    GetTaskOutput: get_task_output,
    TaskStarting: task_starting,
    PushXCom: push_xcom,
    PullXCom: pull_xcom,
    RecordAssetEvents: record_asset_events,
    GetAssetEvents: get_asset_events,
}
