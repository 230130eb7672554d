"""``create_app(settings)``: the FastAPI application of the API server.

Everything built once per server lives in :class:`AppState` (the database, the state backend,
the token signer, the API keys) and is reached through ``request.app.state.ts``. While the app
runs, a background task removes expired keys (see ``taskstate.api.cleanup``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import TypeVar

from fastapi import FastAPI, Request
from sqlalchemy.orm import Session
from starlette.applications import Starlette
from starlette.convertors import PathConvertor, register_url_convertor
from starlette.types import ASGIApp, Receive, Scope, Send

from taskstate import __version__
from taskstate.api.auth import ApiKeys, TokenSigner
from taskstate.api.errors import install_error_handlers
from taskstate.api.guard import Guard
from taskstate.api.keys import server_api_keys, server_secret_key
from taskstate.api.state_service import StateService
from taskstate.backends.registry import create_backend
from taskstate.config import Settings
from taskstate.db.engine import Database, translate_errors
from taskstate.db.migration import ensure_schema
from taskstate.state.types import StateKind, StateScope, StoredValue, TaskScope, TryFence

__all__ = ["AppState", "app_state", "create_app", "in_transaction"]


class _StateKeyConvertor(PathConvertor):
    """``{key:state_key}``: the rest of the path, newlines included.

    Starlette's ``path`` convertor stops at a newline, so a key holding one would match no route
    and answer 404; matched, it reaches the key check and gets its ``InvalidKeyError``.
    """

    regex = "(?s:.*)"


# Starlette keeps convertors in one registry, read when a route's path is compiled: the route
# modules import this one first.
register_url_convertor("state_key", _StateKeyConvertor())

T = TypeVar("T")

_STATE_PREFIX = "/execution/state/"


@dataclass
class AppState:
    settings: Settings
    database: Database
    state: StateService
    signer: TokenSigner
    api_keys: ApiKeys

    async def aclose(self) -> None:
        """Close the backend's and the database's connections."""
        await self.state.backend.aclose()
        await self.database.adispose()


def app_state(request: Request) -> AppState:
    return request.app.state.ts  # type: ignore[no-any-return]


async def in_transaction(state: AppState, work: Callable[[Session], T]) -> T:
    """Run ``work`` on a session of the run registry and commit."""
    database = state.database
    if database.dialect == "sqlite":
        # The metastore backend runs SQLite statements inline on the event loop. A transaction
        # held open across an ``await`` (aiosqlite) would deadlock with them: the loop blocks
        # in SQLite's busy wait for a lock that only the suspended transaction can release.
        # So SQLite transactions run inline too, start to commit, without yielding.
        with translate_errors(database.masked_url), database.session_factory() as sync_session:
            result = work(sync_session)
            sync_session.commit()
        return result
    with translate_errors(database.masked_url):
        async with database.async_session_factory() as session:
            result = await session.run_sync(work)
            await session.commit()
    return result


def build_state(settings: Settings) -> AppState:
    """Everything the server builds once: the keys first (a bad one is refused before anything
    else is touched), then the backend (a bad option or a volatile Redis refused before the
    database is), then the database, brought to the newest schema."""
    signer = TokenSigner(server_secret_key(settings), ttl_seconds=settings.api.token_ttl_seconds)
    api_keys = ApiKeys(server_api_keys(settings))
    db = settings.database
    database = Database(
        db.url,
        echo=db.echo,
        pool_size=db.pool_size,
        max_overflow=db.max_overflow,
        sqlite_synchronous=db.sqlite_synchronous,
    )
    try:
        # The backend first: its options and its storage (a Redis without persistence) are
        # refused before the schema is created or migrated.
        backend = create_backend(
            settings.state_store.backend,
            dict(settings.state_store.backend_kwargs),
            setting="[state_store] backend",
            database=database,
        )
        ensure_schema(database)
        state = StateService(
            backend,
            max_value_bytes=settings.state_store.max_value_bytes,
            default_retention=_default_retention(settings),
        )
    except BaseException:
        database.dispose()  # only the sync engine has connected yet
        raise
    built = AppState(
        settings=settings,
        database=database,
        state=state,
        signer=signer,
        api_keys=api_keys,
    )
    state.try_check = functools.partial(_check_try, built)
    if not backend.queues_purges:
        state.on_replaced = functools.partial(_queue_replaced, built)
    return built


async def _queue_replaced(state: AppState, scope: StateScope, old: StoredValue) -> None:
    """Queue the reference a set replaced in a backend that does not queue it itself."""
    from taskstate.api import purge

    kind: StateKind = "task" if type(scope) is TaskScope else "asset"
    await purge.enqueue(state, kind, [old])


async def _check_try(state: AppState, fence: TryFence) -> None:
    """StaleTryError unless ``fence`` names the running try (for backends that do not fence)."""
    from taskstate.api import runs

    await in_transaction(
        state,
        lambda session: runs.require_running_try(
            session, fence.ti_id, fence.try_number, queued=True
        ),
    )


def _default_retention(settings: Settings) -> timedelta | None:
    days = settings.state_store.default_retention_days
    return timedelta(days=days) if days else None


class _Front:
    """Sends the state routes to a bare Starlette app, everything else to FastAPI.

    Every ``get``/``set`` of a task is one request to ``/execution/state/``. Measured with a
    profiler, FastAPI's middleware and router layers took about as long as the handler itself
    (database statement included); the state routes need none of them.
    """

    def __init__(self, api: FastAPI, state_app: Starlette) -> None:
        from taskstate.api import replies  # it runs its work through in_transaction, above

        self.api = api
        self.state_app = state_app
        # A POST or PATCH with an Idempotency-Key is answered once (see api.replies).
        self._replies = replies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(_STATE_PREFIX):
            await self.state_app(scope, receive, send)
            return
        key = self._replies.idempotency_key(scope)
        if key is None:
            await self.api(scope, receive, send)
        else:
            await self._replies.serve_keyed(self.api, self.api.state.ts, key, scope, receive, send)


def create_app(settings: Settings, *, state: AppState | None = None) -> ASGIApp:
    """The API server's app; the database schema is brought to head when it starts.

    A ``state`` built beforehand (by :func:`build_state`, so that start-up errors surface as
    taskstate errors in the caller) is used, and closed when the app stops.
    """
    from taskstate.api import (
        asset_events,
        cleanup,
        clearing,
        execution,
        maintenance,
        mapping,
        openapi,
        outputs,
        public,
        xcoms,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        nonlocal state
        if state is None:
            state = build_state(settings)
        app.state.ts = state
        state_app.state.ts = state
        store = settings.state_store
        cleaner = None
        if store.cleanup_interval_seconds > 0:
            cleaner = asyncio.create_task(
                cleanup.run_periodically(
                    state, interval=store.cleanup_interval_seconds, limit=store.cleanup_batch_size
                ),
                name="taskstate-cleanup",
            )
        try:
            yield
        finally:
            if cleaner is not None:
                cleaner.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await cleaner
            await state.aclose()

    app = FastAPI(
        title="taskstate",
        version=__version__,
        lifespan=lifespan,
        description="Durable, scoped key/value state for workflow tasks.",
    )
    install_error_handlers(app)
    openapi.install_openapi(app)
    app.include_router(execution.router)
    state_app = Starlette(routes=execution.STATE_ROUTES)
    install_error_handlers(state_app)
    app.include_router(public.router)
    app.include_router(clearing.router)
    app.include_router(maintenance.router)
    app.include_router(outputs.router)
    app.include_router(mapping.router)
    app.include_router(xcoms.execution_router)
    app.include_router(xcoms.public_router)
    app.include_router(asset_events.execution_router)
    app.include_router(asset_events.public_router)

    @app.get("/health", tags=["health"])
    async def health() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    def credentials() -> tuple[TokenSigner, ApiKeys] | None:
        ts: AppState | None = getattr(app.state, "ts", None)
        return None if ts is None else (ts.signer, ts.api_keys)

    return Guard(
        _Front(app, state_app),
        max_body_bytes=settings.api.max_body_bytes,
        credentials=credentials,
    )
