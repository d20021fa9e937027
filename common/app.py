"""The application factory every domain service is built with."""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, Depends, FastAPI
from sqlalchemy import Table
from starlette.concurrency import run_in_threadpool
from starlette.middleware.gzip import GZipMiddleware

from common import sealing
from common.auth import JwksKeySource, TokenVerifier, trusted_issuer
from common.db import make_engine, normalise_url, report_engine
from common.health import database_check, health_router
from common.idempotency import IdempotentReplay, on_replay
from common.middleware import (
    BodyLimitMiddleware,
    ConcretePathsFirstMiddleware,
    ContentTypeMiddleware,
    GzipRequestMiddleware,
    HeadAsGetMiddleware,
    RequestIdMiddleware,
    StrictJsonMiddleware,
)
from common.observability import configure_logging, install_observability
from common.openapi import problem_aware_openapi
from common.problems import ServiceUnavailable, install_problem_handlers
from common.query import refuse_unknown_query
from common.service_client import ServiceTokens
from common.settings import PersonalDataSettings, ServiceSettings


def install_plumbing(app: FastAPI, max_body_bytes: int, strict_json: bool = True) -> None:
    """Errors as problem+json, request ids, body limit, gzip both ways, content-type checks and
    the strict reading of JSON bodies (the gateway adds that one itself, behind its proxy: the
    services read what it forwards)."""
    install_problem_handlers(app)
    # Before any route is added: every route then refuses query parameters it does not take.
    app.router.dependencies.append(Depends(refuse_unknown_query))
    app.add_exception_handler(IdempotentReplay, on_replay)
    app.add_middleware(ConcretePathsFirstMiddleware)
    app.add_middleware(HeadAsGetMiddleware)
    if strict_json:
        app.add_middleware(StrictJsonMiddleware)
    app.add_middleware(ContentTypeMiddleware)
    app.add_middleware(GzipRequestMiddleware, max_bytes=max_body_bytes)
    app.add_middleware(BodyLimitMiddleware, max_bytes=max_body_bytes)
    # Answers of 1 KB and more are gzipped for clients that ask (`Accept-Encoding`); the
    # gateway passes the services' compressed answers through as they are. Level 3, not the
    # default 9: a bank batch's answer (1 MB) compresses in 7 ms instead of 24, 5 % larger.
    app.add_middleware(GZipMiddleware, minimum_size=1024, compresslevel=3)
    app.add_middleware(RequestIdMiddleware)
    app.openapi = lambda: problem_aware_openapi(app)  # type: ignore[method-assign]


Worker = Callable[[FastAPI], Coroutine[Any, Any, None]]
"""A background loop of a service (e.g. a relay), run while the app is up."""
WARM_UP_TRIES = 120
WARM_UP_PAUSE_SECONDS = 0.5
log = logging.getLogger("ishc.app")


async def warm_up(app: FastAPI) -> None:
    """Fetches the gateway's signing keys and this service's own token once at start, so the
    first requests do not pay for them (on a busy machine that took seconds). The gateway may
    start after the services, so this tries again for a minute."""
    tokens: ServiceTokens | None = getattr(app.state, "service_tokens", None)
    for _ in range(WARM_UP_TRIES):
        # Keys or token not to be had yet: the gateway is still starting; try again shortly.
        with contextlib.suppress(ServiceUnavailable):
            if await run_in_threadpool(app.state.keys.ready):
                if tokens is not None:
                    await tokens.token()
                return
        await asyncio.sleep(WARM_UP_PAUSE_SECONDS)
    log.warning("warm-up gave up: the gateway did not answer")


def create_service_app(
    *,
    title: str,
    description: str,
    settings: ServiceSettings,
    routers: Iterable[APIRouter],
    idempotency_keys: Table,
    workers: Iterable[Worker] = (),
) -> FastAPI:
    """A service app: its database (with its table of idempotency keys), token verification
    against the gateway's keys, health, and its background workers (started with the app,
    cancelled when it stops). `settings.process` chooses what the process runs: the API, the
    workers, or both (see `common.worker`)."""
    workers = list(workers) if settings.runs_workers else []
    settings.check_production()
    if isinstance(settings, PersonalDataSettings):
        sealing.configure(settings)  # malformed keys stop the start, not the first member read
    configure_logging(settings)
    keys = JwksKeySource(
        settings.gateway_url.rstrip("/") + "/.well-known/jwks.json",
        cache_seconds=settings.jwks_cache_seconds,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(worker(app)) for worker in [warm_up, *workers]]
        yield
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        app.state.engine.dispose()
        if app.state.report_engine is not None:
            app.state.report_engine.dispose()

    app = FastAPI(title=title, description=description, version="1.0.0", lifespan=lifespan)
    app.state.settings = settings
    app.state.engine = make_engine(normalise_url(settings.database_url), settings)
    app.state.report_engine = report_engine(settings)
    app.state.idempotency_keys = idempotency_keys
    app.state.keys = keys
    app.state.verifier = TokenVerifier(
        keys, settings.jwt_issuer, settings.jwt_audience, external=trusted_issuer(settings)
    )
    install_plumbing(app, settings.max_body_bytes)
    install_observability(app, settings)

    # Readiness is the process's own dependencies only: the gateway's keys are fetched when a
    # token needs them (a gateway that is down answers no request to wait for anyway), and a
    # service ready only with the gateway up, beside a gateway ready only with the services
    # up, would be a cycle that keeps a whole platform out of its load balancers.
    app.include_router(health_router({"database": database_check}))
    if settings.serves_api:
        for router in routers:
            app.include_router(router)
    return app
