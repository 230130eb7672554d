"""Every error leaves the API server as ``{code, message, detail}`` with the status of its class."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.applications import Starlette
from starlette.exceptions import HTTPException

from taskstate.errors import (
    InvalidValueError,
    NotFoundError,
    RuntimeFailure,
    TaskStateError,
    UsageError,
)

__all__ = ["install_error_handlers"]

log = logging.getLogger("taskstate.api")


class _ErrorResponse(JSONResponse):
    """An error body in ASCII JSON: a message may quote a caller's string, lone surrogates
    included, which UTF-8 cannot encode but a ``\\u`` escape can."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, separators=(",", ":")).encode("ascii")


def _respond(
    error: TaskStateError, status: int | None = None, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return _ErrorResponse(error.to_body(), status_code=status or error.status, headers=headers)


async def _taskstate_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TaskStateError)
    return _respond(exc)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    for e in errors:
        if e.get("type") == "json_invalid":
            # A body that is not JSON is a bad value, as on the execution API.
            reason = (e.get("ctx") or {}).get("error") or e.get("msg")
            return _respond(InvalidValueError(f"the request body is not valid JSON: {reason}"))
    problems = [f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in errors]
    return _respond(
        UsageError(f"invalid request: {'; '.join(problems)}", detail={"errors": problems})
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    path: str = request.scope["path"]
    if exc.status_code == 404:
        return _respond(NotFoundError(f"no route {request.method} {path}"))
    if exc.status_code == 405:
        # The Allow header names the methods of one matching route only, so it is not repeated
        # in the message.
        message = f"{request.method} is not allowed on {path}"
        return _respond(UsageError(message), 405, headers=exc.headers)
    error = (
        UsageError(str(exc.detail)) if exc.status_code < 500 else RuntimeFailure(str(exc.detail))
    )
    return _respond(error, exc.status_code)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error in %s %s", request.method, request.url.path)
    return _respond(RuntimeFailure(f"internal error: {type(exc).__name__}: {exc}"))


def install_error_handlers(app: Starlette) -> None:
    app.add_exception_handler(TaskStateError, _taskstate_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
