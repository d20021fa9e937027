"""The application factory every domain service is built with."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from starlette.concurrency import run_in_threadpool

from common.auth import JwksKeySource, TokenVerifier
from common.db import make_engine, normalise_url
from common.health import ReadinessCheck, database_check, health_router
from common.idempotency import IdempotentReplay, on_replay
from common.middleware import BodyLimitMiddleware, ContentTypeMiddleware, RequestIdMiddleware
from common.openapi import problem_aware_openapi
from common.problems import install_problem_handlers
from common.settings import ServiceSettings


def install_plumbing(app: FastAPI, max_body_bytes: int) -> None:
    """Errors as problem+json, request ids, body limit and content-type checks."""
    install_problem_handlers(app)
    app.add_exception_handler(IdempotentReplay, on_replay)
    app.add_middleware(ContentTypeMiddleware)
    app.add_middleware(BodyLimitMiddleware, max_bytes=max_body_bytes)
    app.add_middleware(RequestIdMiddleware)
    app.openapi = lambda: problem_aware_openapi(app)  # type: ignore[method-assign]


Worker = Callable[[FastAPI], Coroutine[Any, Any, None]]
"""A background loop of a service (e.g. a relay), run while the app is up."""


def create_service_app(
    *,
    title: str,
    description: str,
    settings: ServiceSettings,
    routers: Iterable[APIRouter],
    workers: Iterable[Worker] = (),
) -> FastAPI:
    """A service app: its database, token verification against the gateway's keys, health,
    and its background workers (started with the app, cancelled when it stops)."""
    workers = list(workers)
    settings.check_production()
    logging.basicConfig(level=settings.log_level.upper())
    keys = JwksKeySource(
        settings.gateway_url.rstrip("/") + "/.well-known/jwks.json",
        cache_seconds=settings.jwks_cache_seconds,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(worker(app)) for worker in workers]
        yield
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        app.state.engine.dispose()

    app = FastAPI(title=title, description=description, version="1.0.0", lifespan=lifespan)
    app.state.settings = settings
    app.state.engine = make_engine(normalise_url(settings.database_url))
    app.state.verifier = TokenVerifier(keys, settings.jwt_issuer, settings.jwt_audience)
    install_plumbing(app, settings.max_body_bytes)

    async def keys_check(_request: Request) -> str | None:
        ready = await run_in_threadpool(keys.ready)
        return None if ready else "gateway signing keys unreachable"

    checks: dict[str, ReadinessCheck] = {"database": database_check, "signing_keys": keys_check}
    app.include_router(health_router(checks))
    for router in routers:
        app.include_router(router)
    return app
