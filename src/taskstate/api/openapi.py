"""The OpenAPI documents of the two APIs: ``/openapi/public.json``, ``/openapi/execution.json``,
and ``/openapi.json`` with both.

FastAPI describes the routes it serves from their signatures; this module completes that, so a
client (or a fuzzer) finds every route, body and answer in the document:

* the state routes, served by a bare Starlette app in front of FastAPI, are described here;
* the execution routes that decode their bodies with msgspec get their request and answer
  schemas from the same msgspec structs (``contracts.http``);
* every answer an operation can give is declared: the errors with their statuses and the
  ``{code, message, detail}`` body (FastAPI's 422 goes: a malformed request answers 400);
* bearer authentication: an API key on the public API, a task-instance token on the execution
  API.
"""

from __future__ import annotations

import copy
from typing import Any

import msgspec
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from taskstate.api.public import CreateRunModel
from taskstate.contracts.http import (
    FinishRequest,
    FinishResponse,
    HeartbeatResponse,
    OutputBody,
    PurgedBody,
    RecordAssetEventsBody,
    RemovedRefsBody,
    StartRequest,
    StartResponse,
    StateBody,
    XComValuesBody,
)

__all__ = ["install_openapi"]

Json = dict[str, Any]

_PUBLIC = "/api/v1/"
_EXECUTION = "/execution/"

_ERROR_SCHEMA: Json = {
    "type": "object",
    "required": ["code", "message", "detail"],
    "properties": {
        "code": {"type": "string", "description": "the error's class, e.g. invalid_key"},
        "message": {"type": "string"},
        "detail": {"type": "object", "additionalProperties": True},
    },
}

_ERRORS: dict[str, str] = {
    "400": "a malformed request or a value that cannot be stored; nothing changed",
    "401": "no credentials, or a bad or expired one",
    "403": "valid credentials used outside their scope",
    "404": "no such run, task instance, asset, key or route",
    "409": "the run or task instance is in the wrong state, or exists already",
    "413": "a body over [api] max_body_bytes, or a value over [state_store] max_value_bytes",
    "503": "the database or the state backend failed; retrying may help",
}

_SECURITY: Json = {
    "apiKey": {
        "type": "http",
        "scheme": "bearer",
        "description": "an API key of the server ([api] api_keys)",
    },
    "taskInstanceToken": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "the token of one task instance's try, from POST .../queue",
    },
}

_STRUCTS = (
    StateBody,
    RemovedRefsBody,
    PurgedBody,
    StartRequest,
    StartResponse,
    FinishRequest,
    FinishResponse,
    HeartbeatResponse,
    OutputBody,
    RecordAssetEventsBody,
    XComValuesBody,
)


def _ref(struct: type) -> Json:
    return {"$ref": f"#/components/schemas/{struct.__name__}"}


def _json(schema: Json, description: str = "OK") -> Json:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _body(struct: type) -> Json:
    return {"required": True, "content": {"application/json": {"schema": _ref(struct)}}}


def _param(name: str, where: str, description: str, *, required: bool = True) -> Json:
    return {
        "name": name,
        "in": where,
        "required": required,
        "schema": {"type": "string"},
        "description": description,
    }


_TI_ID = _param("ti_id", "path", "the task instance, the one the token grants")
_KEY = _param("key", "path", "the state key (percent-encoded; may contain '/')")
_ASSET = [
    _param("name", "query", "the asset's name (or give uri)", required=False),
    _param("uri", "query", "the asset's uri (or give name)", required=False),
]
_NO_CONTENT: Json = {"description": "done"}


def _state_paths() -> Json:
    """The hot path, served outside FastAPI (see ``api.app._Front``)."""
    key_ops = {
        "get": {
            "summary": "A key's value or reference; {} when the key is missing",
            "responses": {"200": _json(_ref(StateBody))},
        },
        "put": {
            "summary": "Store a value (or a worker backend's reference) for the key",
            "requestBody": _body(StateBody),
            "responses": {
                "204": _NO_CONTENT,
                "200": _json(
                    _ref(RemovedRefsBody),
                    "stored; the objects the set of a reference replaced, for the caller to "
                    "purge under the claim",
                ),
            },
        },
        "delete": {
            "summary": "Delete the key; answers what was stored ({} if nothing)",
            "responses": {"200": _json(_ref(StateBody))},
        },
    }
    clear = {
        "delete": {
            "summary": "Delete every key of the scope; answers the references removed",
            "responses": {"200": _json(_ref(RemovedRefsBody))},
        }
    }

    purged = {
        "post": {
            "summary": "Report the objects of a purge claim removed",
            "responses": {"200": _json(_ref(PurgedBody))},
        }
    }

    def with_params(ops: Json, params: list[Json], prefix: str) -> Json:
        return {
            method: {
                **op,
                "operationId": f"{prefix}_{method}",
                "tags": ["execution"],
                "parameters": params,
            }
            for method, op in copy.deepcopy(ops).items()
        }

    return {
        "/execution/state/ti/{ti_id}/{key}": with_params(key_ops, [_TI_ID, _KEY], "task_state"),
        "/execution/state/ti/{ti_id}": with_params(clear, [_TI_ID], "clear_task_state"),
        "/execution/state/asset/{key}": with_params(key_ops, [_KEY, *_ASSET], "asset_state"),
        "/execution/state/asset": with_params(clear, _ASSET, "clear_asset_state"),
        "/execution/state/purged/{claim}": with_params(
            purged, [_param("claim", "path", "the claim a delete, clear or set answered")], "purged"
        ),
    }


# Execution routes that read their bodies with msgspec: (path, method) -> request, answer.
_MSGSPEC_ROUTES: dict[tuple[str, str], tuple[type | None, Json]] = {
    ("/execution/task-instances/{ti_id}/start", "post"): (
        StartRequest,
        {"200": _json(_ref(StartResponse))},
    ),
    ("/execution/task-instances/{ti_id}/heartbeat", "post"): (
        None,
        {"200": _json(_ref(HeartbeatResponse))},
    ),
    ("/execution/task-instances/{ti_id}/finish", "post"): (
        FinishRequest,
        {"200": _json(_ref(FinishResponse))},
    ),
    ("/execution/outputs/ti/{ti_id}", "put"): (OutputBody, {"204": _NO_CONTENT}),
    ("/execution/task-instances/{ti_id}/xcoms/{key}", "put"): (OutputBody, {"204": _NO_CONTENT}),
    ("/execution/task-instances/{ti_id}/asset-events", "post"): (
        RecordAssetEventsBody,
        {"204": _NO_CONTENT},
    ),
    ("/execution/xcoms/{task_id}/{key}", "get"): (None, {"200": _json(_ref(XComValuesBody))}),
}


def _pydantic_body(model: type[BaseModel], schemas: Json) -> Json:
    """The request body of a route that validates ``model`` itself; its schemas added."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    schemas.update(schema.pop("$defs", {}))
    schemas[model.__name__] = schema
    return {"required": True, "content": {"application/json": {"schema": _ref(model)}}}


def complete(document: Json) -> Json:
    """``document`` (FastAPI's) with the state routes, bodies, errors and security added."""
    doc = copy.deepcopy(document)
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    _, struct_schemas = msgspec.json.schema_components(
        _STRUCTS, ref_template="#/components/schemas/{name}"
    )
    schemas.update(struct_schemas)
    schemas["Error"] = _ERROR_SCHEMA
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    components["securitySchemes"] = _SECURITY
    doc["paths"].update(_state_paths())
    run_body = doc["paths"]["/api/v1/dag-runs"]["post"]
    run_body["requestBody"] = _pydantic_body(CreateRunModel, schemas)
    for (path, method), (request, answers) in _MSGSPEC_ROUTES.items():
        operation = doc["paths"].get(path, {}).get(method)
        if operation is None:  # a route renamed: tests/api/test_openapi_fuzz.py says which
            continue
        if request is not None:
            operation["requestBody"] = _body(request)
        operation["responses"] = answers
    for path, item in doc["paths"].items():
        guarded = path.startswith((_PUBLIC, _EXECUTION))
        for operation in item.values():
            responses = operation.setdefault("responses", {})
            responses.pop("422", None)
            if not guarded:
                continue
            for status, description in _ERRORS.items():
                responses.setdefault(
                    status, _json({"$ref": "#/components/schemas/Error"}, description)
                )
            scheme = "apiKey" if path.startswith(_PUBLIC) else "taskInstanceToken"
            operation["security"] = [{scheme: []}]
    return doc


def _only(document: Json, prefix: str, title: str) -> Json:
    doc = copy.deepcopy(document)
    doc["info"]["title"] = title
    doc["paths"] = {p: item for p, item in doc["paths"].items() if p.startswith(prefix)}
    return doc


def install_openapi(app: FastAPI) -> None:
    """Serve the completed documents, built once on first request."""
    built: dict[str, Json] = {}

    def document(which: str) -> Json:
        if not built:
            raw = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            full = complete(raw)
            built["all"] = full
            built["public"] = _only(full, _PUBLIC, "taskstate public API")
            built["execution"] = _only(full, _EXECUTION, "taskstate execution API")
        return built[which]

    app.openapi = lambda: document("all")  # type: ignore[method-assign]

    @app.get("/openapi/public.json", include_in_schema=False)
    async def public_document() -> JSONResponse:
        return JSONResponse(document("public"))

    @app.get("/openapi/execution.json", include_in_schema=False)
    async def execution_document() -> JSONResponse:
        return JSONResponse(document("execution"))
