"""The FastAPI application factory.

Example:
    >>> app = create_app(Settings())            # the lifespan builds the services and closes them
    >>> uvicorn.run(app, host=..., port=...)

    >>> services = build_services(settings, embedder=HashingEmbedder())   # tests: build them yourself
    >>> app = create_app(settings, services=services)                     # ... and close them yourself
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool

import grounddesk
from grounddesk.api.errors import install_error_handlers
from grounddesk.api.limits import AbuseLimits, ip_limiter
from grounddesk.api.middleware import AddressRateLimit, AllowlistCORS, RequestSizeLimit, SecurityHeaders
from grounddesk.api.routes import admin, auth, chat, health, knowledge, pages, tickets, widget
from grounddesk.api.routes.pages import STATIC_DIR
from grounddesk.api.services import Services, build_services
from grounddesk.api.storable import StorableText
from grounddesk.api.sweeper import run_sweeper
from grounddesk.api.turns import ChatService
from grounddesk.config import Settings
from grounddesk.db.wal import WalCheckpointer, sqlite_file
from grounddesk.wiring import checkpoint_file

__all__ = ["create_app"]

logger = logging.getLogger(__name__)

_UPLOAD_PATH = "/v1/knowledge/documents"


def _wal_checkpointer(services: Services, interval_s: float) -> WalCheckpointer:
    """Checkpoint the SQLite store and the conversation checkpoints in the background (none on PostgreSQL)."""
    store = sqlite_file(services.engine)
    paths = [] if store is None else [store, checkpoint_file(services.settings)]
    checkpointer = WalCheckpointer(paths, interval_s=interval_s)
    checkpointer.start()
    return checkpointer


def create_app(settings: Settings, *, services: Services | None = None) -> FastAPI:
    """Build the service.

    Args:
        settings: The configuration.
        services: Already built services (tests); the caller closes them. None: the app's lifespan builds them
            with :func:`build_services` at startup and closes them at shutdown.

    Returns:
        The FastAPI app: the widget, console and knowledge APIs under ``/v1``, the pages, ``/healthz``,
        ``/readyz`` and ``/openapi.json``.
    """
    service = settings.service

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = getattr(app.state, "services", None) is None
        if owned:
            app.state.services = await run_in_threadpool(build_services, settings)
            # Load the model (and trace its query graph) now, not in the first customer's turn.
            await run_in_threadpool(app.state.services.knowledge.embedder.embed_query, "warm up")
            # The model and libraries loaded above are a million long-lived objects: out of the collector's
            # sight, a full collection no longer stalls the event loop for a third of a second under load.
            gc.collect()
            gc.freeze()
        app.state.chat = ChatService(app.state.services, turn_workers=service.turn_workers)
        sweeper = asyncio.create_task(run_sweeper(app.state.services, service.queue_sweep_s))
        wal = _wal_checkpointer(app.state.services, service.wal_checkpoint_s)
        try:
            yield
        finally:
            sweeper.cancel()
            with suppress(asyncio.CancelledError):
                await sweeper
            await app.state.chat.drain(service.shutdown_grace_s)
            await run_in_threadpool(wal.close)
            if owned:
                built: Services = app.state.services
                app.state.services = None
                await run_in_threadpool(built.close)

    app = FastAPI(
        title="grounddesk",
        version=getattr(grounddesk, "__version__", "0.1.0"),
        summary="Grounded, calibrated, human-in-the-loop customer support",
        lifespan=lifespan,
    )
    if services is not None:
        # Usable without the lifespan too (e.g. uvicorn with lifespan="off" in tests).
        app.state.services = services
        app.state.chat = ChatService(services, turn_workers=service.turn_workers)
    app.state.limits = AbuseLimits(service.limits, service.max_message_chars)
    install_error_handlers(app)
    for router in (
        chat.router,
        widget.router,
        tickets.router,
        tickets.staff_router,
        knowledge.router,
        knowledge.public_router,
        auth.router,
        admin.router,
        health.router,
        pages.router,
    ):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    # Outermost last: security headers on everything, CORS headers on refusals too, then the rate and size limits,
    # then text no store can hold (read within the size limit).
    app.add_middleware(StorableText)
    app.add_middleware(
        RequestSizeLimit,
        max_bytes=service.max_request_bytes,
        overrides=[(_UPLOAD_PATH, max(service.max_upload_bytes, service.max_request_bytes))],
    )
    if service.limits.enabled:
        app.add_middleware(
            AddressRateLimit,
            limiter=ip_limiter(service.limits),
            prefixes=service.limits.ip_paths,
            trusted_proxy_hops=service.trusted_proxy_hops,
        )
    if service.cors_origins:
        app.add_middleware(AllowlistCORS, origins=service.cors_origins)
    app.add_middleware(
        SecurityHeaders,
        frame_ancestors=service.frame_ancestors,
        hsts_max_age_s=service.hsts_max_age_s,
        trusted_proxy_hops=service.trusted_proxy_hops,
    )
    return app
