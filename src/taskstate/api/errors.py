"""Every error leaves the API server as ``{code, message, detail}`` with the status of its class."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from taskstate.errors import NotFoundError, RuntimeFailure, TaskStateError, UsageError

__all__ = ["install_error_handlers"]

log = logging.getLogger("taskstate.api")


def _respond(error: TaskStateError, status: int | None = None) -> JSONResponse:
    return JSONResponse(error.to_body(), status_code=status or error.status)


async def _taskstate_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TaskStateError)
    return _respond(exc)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [
        f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}" for e in exc.errors()
    ]
    return _respond(
        UsageError(f"invalid request: {'; '.join(problems)}", detail={"errors": problems})
    )


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return _respond(NotFoundError(f"no route {request.method} {request.url.path}"))
    error = (
        UsageError(str(exc.detail)) if exc.status_code < 500 else RuntimeFailure(str(exc.detail))
    )
    return _respond(error, exc.status_code)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unexpected error in %s %s", request.method, request.url.path)
    return _respond(RuntimeFailure(f"internal error: {type(exc).__name__}: {exc}"))


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(TaskStateError, _taskstate_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
