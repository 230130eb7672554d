"""Task outputs: a task's JSON return value, stored for the tasks that take it as an argument.

A task process sends its return value through its supervisor; ``PUT /execution/outputs/ti/{ti_id}``
upserts it for the token's own task instance while the token's try is running (queueing a try
removes the last one, see ``runs.queue_ti``); an ended or earlier try is refused, so an output
that downstream tasks may have read never changes. ``GET /execution/outputs/{dag_id}/{run_id}/
{task_id}`` answers the output of a task of the token's own DAG run, and refuses any other run.

Outputs always pass through the API server, inline and bounded by ``[state_store]
max_value_bytes``, like an inline state value: large data belongs in state with a worker-side
backend, and an output may then be its key or reference.
"""

from __future__ import annotations

import msgspec
from fastapi import APIRouter, Request, Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from taskstate.api import runs
from taskstate.api.app import app_state, in_transaction
from taskstate.api.auth import token_claims
from taskstate.api.execution import decode_body, json_response
from taskstate.contracts.http import OutputBody
from taskstate.db.engine import dialect_insert
from taskstate.db.models import RETURN_VALUE, TaskInstance, TaskOutput, utcnow
from taskstate.errors import InvalidValueError, PermissionDeniedError
from taskstate.state.codec import validate_encoded_value

__all__ = ["read_output", "router", "store_output"]

router = APIRouter(prefix="/execution", tags=["execution"])

_output_body = msgspec.json.Decoder(OutputBody)


def store_output(
    session: Session, ti_id: str, data: str, *, dialect: str, key: str = RETURN_VALUE
) -> None:
    """Upsert an XCom of a task instance, by default its output (one statement, no read
    before the write)."""
    insert = dialect_insert(dialect)(TaskOutput)
    insert = insert.values(ti_id=ti_id, key=key, data=data, updated_at=utcnow())
    session.execute(
        insert.on_conflict_do_update(
            index_elements=[TaskOutput.ti_id, TaskOutput.key],
            set_={"data": insert.excluded.data, "updated_at": insert.excluded.updated_at},
        )
    )


def read_output(session: Session, dag_id: str, run_id: str, task_id: str) -> bytes | None:
    """The JSON text of a task's output: its value (None if it returned nothing), or, for a
    mapped task, the list of its instances' values in map_index order (null where one returned
    nothing). The instances' texts are joined as they are stored, never parsed."""
    rows = session.execute(
        select(TaskInstance.map_index, TaskOutput.data)
        .outerjoin(
            TaskOutput, (TaskOutput.ti_id == TaskInstance.id) & (TaskOutput.key == RETURN_VALUE)
        )
        .where(
            TaskInstance.dag_id == dag_id,
            TaskInstance.run_id == run_id,
            TaskInstance.task_id == task_id,
        )
        .order_by(TaskInstance.map_index)
    ).all()
    if not rows:
        raise runs.task_not_found(dag_id, run_id, task_id)
    if len(rows) == 1 and rows[0].map_index < 0:
        data = rows[0].data
        return None if data is None else data.encode()
    return b"[" + b",".join((data or "null").encode() for _, data in rows) + b"]"


@router.put("/outputs/ti/{ti_id}", status_code=204)
async def set_output(ti_id: str, request: Request) -> Response:
    state = app_state(request)
    claims = token_claims(request.headers.get("authorization"), state.signer)
    claims.require_ti(ti_id)
    parsed = decode_body(await request.body(), _output_body, "output", InvalidValueError)
    if parsed.value is msgspec.UNSET:
        raise InvalidValueError("the output body must hold a value")
    data = bytes(parsed.value)
    validate_encoded_value(data, max_bytes=state.settings.state_store.max_value_bytes)
    dialect = state.database.dialect

    def write(session: Session) -> None:
        # Downstream tasks may have read the output of an ended try: no token may change it.
        runs.require_running_try(session, ti_id, claims.try_number)
        store_output(session, ti_id, data.decode(), dialect=dialect)

    await in_transaction(state, write)
    return Response(status_code=204)


@router.get("/outputs/{dag_id}/{run_id}/{task_id}")
async def get_output(dag_id: str, run_id: str, task_id: str, request: Request) -> Response:
    state = app_state(request)
    scope = token_claims(request.headers.get("authorization"), state.signer).scope
    if (dag_id, run_id) != (scope.dag_id, scope.run_id):
        raise PermissionDeniedError(
            f"this token grants a task instance of run {scope.run_id!r} of DAG "
            f"{scope.dag_id!r}; it cannot read outputs of run {run_id!r} of DAG {dag_id!r}",
            detail={"dag_id": dag_id, "run_id": run_id, "task_id": task_id},
        )
    data = await in_transaction(
        state, lambda session: read_output(session, dag_id, run_id, task_id)
    )
    return json_response(OutputBody() if data is None else OutputBody(value=msgspec.Raw(data)))
