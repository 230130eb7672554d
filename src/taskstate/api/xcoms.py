"""XComs: JSON values a task instance publishes under keys, for the other tasks of its run.

A task's return value is its XCom ``return_value`` (its output, see :mod:`taskstate.api.outputs`,
which shares the table); ``ti.xcom_push(key, value)`` adds others. As with outputs, only the
token's running try may push (``PUT /execution/task-instances/{ti_id}/xcoms/{key}``), the next
try starts without the XComs of the last one (``runs.queue_ti``), and a value is checked like an
inline state value and bounded by ``[state_store] max_value_bytes``. Unlike a state value, an
XCom may be JSON ``null``, as in Airflow.

``GET /execution/xcoms/{task_id}/{key}`` reads the XComs of a task of the token's own run:
with ``?map_index=`` (repeated), one value per index in the order given; without, the value of
every instance that has one, in map_index order (the raw material of Airflow's ``xcom_pull``
rules, applied in the task process by ``taskstate.runtime.xcom``). A missing XCom is ``null``
or left out, never an error, as in Airflow. ``dag_id`` and ``run_id`` may name the token's own
run only.

``GET /api/v1/task-instances/{ti_id}/xcom`` lists a task instance's XComs for people.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from taskstate.api import runs
from taskstate.api.app import app_state, in_transaction
from taskstate.api.auth import token_claims
from taskstate.api.bounds import INT32_MAX
from taskstate.api.execution import decode_body, json_response
from taskstate.api.outputs import store_output
from taskstate.api.public import require_api_key
from taskstate.contracts.http import OutputBody, XComValuesBody
from taskstate.db.models import TaskInstance, TaskOutput
from taskstate.errors import InvalidValueError, PermissionDeniedError
from taskstate.state.codec import check_size, decode_value, validate_encoded_value, validate_key

__all__ = ["execution_router", "public_router", "read_xcoms", "validate_xcom_value"]

execution_router = APIRouter(prefix="/execution", tags=["execution"])
public_router = APIRouter(
    prefix="/api/v1", tags=["public"], dependencies=[Depends(require_api_key)]
)

_xcom_body = msgspec.json.Decoder(OutputBody)
_NULL = msgspec.Raw(b"null")


def validate_xcom_value(data: bytes, *, max_bytes: int) -> None:
    """Check the JSON text of an XCom: as a state value, but ``null`` is allowed."""
    if data.strip() == b"null":
        check_size(len(data), max_bytes)
        return
    validate_encoded_value(data, max_bytes=max_bytes)


def read_xcoms(
    session: Session,
    dag_id: str,
    run_id: str,
    task_id: str,
    key: str,
    map_indexes: list[int] | None = None,
) -> list[str | None]:
    """The JSON texts of XCom ``key`` of a task of a run: at ``map_indexes`` (None where
    missing), or of every instance that has it, in map_index order."""
    query = (
        select(TaskInstance.map_index, TaskOutput.data)
        .join(TaskOutput, TaskOutput.ti_id == TaskInstance.id)
        .where(
            TaskInstance.dag_id == dag_id,
            TaskInstance.run_id == run_id,
            TaskInstance.task_id == task_id,
            TaskOutput.key == key,
        )
    )
    if map_indexes is None:
        return [data for _, data in session.execute(query.order_by(TaskInstance.map_index))]
    found = dict(session.execute(query.where(TaskInstance.map_index.in_(set(map_indexes)))).all())
    return [found.get(index) for index in map_indexes]


@execution_router.put("/task-instances/{ti_id}/xcoms/{key:state_key}", status_code=204)
async def push_xcom(ti_id: str, key: str, request: Request) -> Response:
    state = app_state(request)
    claims = token_claims(request.headers.get("authorization"), state.signer)
    claims.require_ti(ti_id)
    validate_key(key)
    parsed = decode_body(await request.body(), _xcom_body, "XCom", InvalidValueError)
    if parsed.value is msgspec.UNSET:
        raise InvalidValueError("the XCom body must hold a value")
    data = bytes(parsed.value)
    validate_xcom_value(data, max_bytes=state.settings.state_store.max_value_bytes)
    dialect = state.database.dialect

    def write(session: Session) -> None:
        # What downstream tasks may have read from an ended try stays as it was.
        runs.require_running_try(session, ti_id, claims.try_number)
        store_output(session, ti_id, data.decode(), dialect=dialect, key=key)

    await in_transaction(state, write)
    return Response(status_code=204)


@execution_router.get("/xcoms/{task_id}/{key:state_key}")
async def pull_xcom(
    task_id: str,
    key: str,
    request: Request,
    map_index: list[Annotated[int, Field(ge=-1, le=INT32_MAX)]] = Query(default=[]),  # noqa: B008 - FastAPI's declaration
    dag_id: str | None = None,
    run_id: str | None = None,
) -> Response:
    state = app_state(request)
    scope = token_claims(request.headers.get("authorization"), state.signer).scope
    dag_id = dag_id or scope.dag_id
    run_id = run_id or scope.run_id
    if (dag_id, run_id) != (scope.dag_id, scope.run_id):
        raise PermissionDeniedError(
            f"this token grants a task instance of run {scope.run_id!r} of DAG "
            f"{scope.dag_id!r}; it cannot pull XComs of run {run_id!r} of DAG {dag_id!r}",
            detail={"dag_id": dag_id, "run_id": run_id, "task_id": task_id},
        )
    validate_key(key)
    indexes = map_index or None
    texts = await in_transaction(
        state, lambda session: read_xcoms(session, dag_id, run_id, task_id, key, indexes)
    )
    values = [_NULL if text is None else msgspec.Raw(text.encode()) for text in texts]
    return json_response(XComValuesBody(values=values))


@public_router.get("/task-instances/{ti_id}/xcom")
async def list_xcoms(ti_id: str, request: Request) -> list[dict[str, Any]]:
    """The XComs of a task instance (its last try), by key."""

    def work(session: Session) -> list[dict[str, Any]]:
        runs.get_ti(session, ti_id)
        rows = session.execute(
            select(TaskOutput.key, TaskOutput.data, TaskOutput.updated_at)
            .where(TaskOutput.ti_id == ti_id)
            .order_by(TaskOutput.key)
        )
        return [
            {"key": key, "value": decode_value(data), "updated_at": updated.isoformat()}
            for key, data, updated in rows
        ]

    return await in_transaction(app_state(request), work)
