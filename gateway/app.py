"""The gateway: the platform's only public entry."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import fastapi_offline
import httpx
from fastapi import FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from common.app import install_plumbing
from common.db import make_engine, normalise_url
from common.events.consumer import EventConsumer
from common.events.feed import cursors_router
from common.events.retention import retention_worker
from common.health import ReadinessCheck, database_check, health_router, readiness
from common.middleware import StrictJsonMiddleware
from common.observability import configure_logging, install_observability
from gateway.access_log import AccessLog
from gateway.access_log import prune as prune_access
from gateway.access_log import router as access_log_router
from gateway.dead_letters import router as dead_letters_router
from gateway.fair_use import FairUse, parse_limits
from gateway.identity import GatewayVerifier, Standing
from gateway.keys import KeyStore
from gateway.models import idempotency_keys
from gateway.oauth.clients import router as app_clients_router
from gateway.oauth.grants import prune_expired
from gateway.oauth.routes import router as oauth_router
from gateway.openapi_merge import MergedOpenAPI
from gateway.personal_data import router as personal_data_router
from gateway.problem_pages import router as problem_pages_router
from gateway.proxy import PROXY_METHODS, Forwarder, ProxyMiddleware, proxy_endpoint
from gateway.routes import admin_router, auth_router
from gateway.settings import GatewaySettings
from gateway.webhooks.backfill import run_backfills
from gateway.webhooks.delivery import Sender, prune_log
from gateway.webhooks.feeds import event_consumers
from gateway.webhooks.metrics import watch_deliveries
from gateway.webhooks.models import consumer_tables
from gateway.webhooks.routes import router as webhooks_router

DOCS_ASSETS = Path(fastapi_offline.__file__).parent / "static"
"""Swagger UI's and ReDoc's scripts and styles, as the fastapi-offline package ships them."""
DOCS_ASSETS_PATH = "/docs-assets"
DESCRIPTION = """Public API of the Intergenerational Self-Help Club (ISHC) platform.

Get a token at `POST /auth/token` (form-encoded): `grant_type=password` with `username` and
`password` for people, `grant_type=client_credentials` with `client_id` and `client_secret` (or
HTTP Basic) for systems. Send it as `Authorization: Bearer <token>`. Errors are RFC 9457
`application/problem+json` with a stable `code` (on each field error too), which `/problems`
and `x-problem-codes` explain. Money is integer đồng. Writes that take an `Idempotency-Key`
header say so, and whether it is required.

Lists page with `limit` (1 to 200, default 50) and `offset` (rows to skip) and answer
`{items, total, limit, offset}`; each list states its order, which ends with the id, so pages
neither skip nor repeat a row that does not change between them."""


LOCAL_ORIGINS = r"^http://(localhost|127\.0\.0\.1)(:[0-9]{1,5})?$"
CORS_REQUEST_HEADERS = [
    "Authorization",
    "Content-Type",
    "Idempotency-Key",
    "If-Match",
    "Accept-Language",
]
CORS_EXPOSED_HEADERS = [
    "ETag",
    "Location",
    "X-Request-Id",
    "Retry-After",
    "Idempotent-Replayed",
    "RateLimit-Limit",
    "RateLimit-Remaining",
    "RateLimit-Reset",
]


class ListedOriginsOnly(CORSMiddleware):
    """Starlette's CORS, except that an origin not on the list gets no CORS header at all
    (Starlette still lists the allowed methods and headers in its 400 to a preflight, and the
    exposed headers in every answer)."""

    def preflight_response(self, request_headers: Headers) -> Response:
        response = super().preflight_response(request_headers)
        if not self.is_allowed_origin(request_headers["origin"]):
            for name in [name for name in response.headers if name.startswith("access-control-")]:
                del response.headers[name]
        return response

    async def simple_response(
        self, scope: Scope, receive: Receive, send: Send, request_headers: Headers
    ) -> None:
        origin = request_headers.get("origin")
        if origin is None or self.is_allowed_origin(origin):
            await super().simple_response(scope, receive, send, request_headers)
            return

        async def without_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name in [name for name in headers if name.startswith("access-control-")]:
                    del headers[name]
            await send(message)

        await super().simple_response(scope, receive, without_cors, request_headers)


def _allow_browsers(app: FastAPI, settings: GatewaySettings) -> None:
    """Pages on the allowed origins may call the API with `fetch` (tokens travel in the
    `Authorization` header, never in cookies: no credentials mode, so never `*` with them)."""
    origins = settings.allowed_origins()
    if not origins and not settings.cors_local_origins:
        return
    app.add_middleware(
        ListedOriginsOnly,
        allow_origins=origins,
        allow_origin_regex=LOCAL_ORIGINS if settings.cors_local_origins else None,
        allow_methods=["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"],
        allow_headers=CORS_REQUEST_HEADERS,
        expose_headers=CORS_EXPOSED_HEADERS,
        allow_credentials=False,
        max_age=600,
    )


def _service_check(name: str, url: str) -> ReadinessCheck:
    async def check(_request: Request) -> str | None:
        try:
            async with httpx.AsyncClient(timeout=2.0) as client:
                response = await client.get(url.rstrip("/") + "/readyz")
        except httpx.HTTPError as exc:
            return f"{name} service unreachable: {type(exc).__name__}"
        return None if response.status_code == 200 else f"{name} service not ready"

    return check


BACKFILL_POLL_SECONDS = 10.0
"""A backfill is woken when its subscription is made; the poll only finds another replica's."""


def _background_work(
    app: FastAPI, followers: Mapping[str, EventConsumer]
) -> list[Coroutine[Any, Any, None]]:
    """The gateway's loops (none in a web-only process): follow every service's events, send
    and backfill the webhooks subscribers may see, prune the logs."""
    settings: GatewaySettings = app.state.settings
    if not settings.runs_workers:
        return []
    return [
        *(consumer.run(app) for consumer in followers.values()),
        app.state.webhook_sender.run(),
        run_backfills(app.state.engine, followers, app.state.backfill_wake, BACKFILL_POLL_SECONDS),
        retention_worker(consumer_tables.prune)(app),
        retention_worker(prune_log, days_setting="webhook_log_retention_days")(app),
        retention_worker(prune_access, days_setting="access_log_retention_days")(app),
        retention_worker(prune_expired, days_setting="login_retention_days")(app),
    ]


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()
    settings.check_production()
    configure_logging(settings)
    engine = make_engine(normalise_url(settings.database_url), settings)
    # Every replica's keys are the database's (made by `python -m common.migrate`).
    keys = KeyStore(engine, settings)
    # The webhooks follow every service's events; a change forwarded to a service has its
    # feed asked at once.
    followers = event_consumers(settings, keys)
    forwarder = Forwarder(
        settings.upstreams(),
        settings.connect_timeout_seconds,
        settings.upstream_timeout_seconds,
        changed=lambda service: followers[service].wake(),
        access_log=AccessLog(engine),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(work) for work in _background_work(app, followers)]
        yield
        for task in tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await forwarder.close()
        app.state.engine.dispose()

    app = FastAPI(
        title="ISHC Platform API",
        description=DESCRIPTION,
        version="1.0.0",
        lifespan=lifespan,
        openapi_url=None,
        license_info={"name": "Proprietary: the ISHC programme's partners"},
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.keys = keys
    app.state.engine = engine
    app.state.idempotency_keys = idempotency_keys
    app.state.verifier = GatewayVerifier(keys, settings, Standing(engine, settings))
    app.state.forwarder = forwarder
    app.state.fair_use = FairUse(parse_limits(settings.rate_limits))
    app.state.webhook_sender = Sender(app.state.engine, settings)
    app.state.backfill_wake = asyncio.Event()
    app.state.event_consumers = followers
    if settings.serves_api:
        # Added first, so it sits inside the plumbing's middleware (see ProxyMiddleware).
        app.add_middleware(StrictJsonMiddleware)  # the gateway's own routes; services check theirs
        app.add_middleware(ProxyMiddleware)
    install_plumbing(app, settings.max_body_bytes, strict_json=False)
    # Ready when its own database is: a gateway ready only with the services up, beside
    # services that need the gateway's keys, is a cycle (the services' state is /statusz).
    app.include_router(health_router({"database": database_check}))
    if settings.serves_api:
        _allow_browsers(app, settings)  # outermost: a preflight is answered before authentication
        _serve_api(app, settings)
    install_observability(app, settings, announce_route=False)  # outermost: times it all
    watch_deliveries(app)
    return app


def _serve_api(app: FastAPI, settings: GatewaySettings) -> None:
    """The gateway's own routes, the documents and pages, and the proxy to the services."""
    upstreams = {name: _service_check(name, url) for name, url in settings.upstreams().items()}

    @app.get("/statusz", include_in_schema=False)
    async def statusz(request: Request) -> Any:
        """Whether each service is ready, seen from here: for monitoring, not for probes."""
        return await readiness(request, upstreams)

    merged = MergedOpenAPI(settings.upstreams())
    app.include_router(auth_router)
    app.include_router(oauth_router)
    app.include_router(app_clients_router)
    app.include_router(admin_router)
    app.include_router(webhooks_router)
    app.include_router(access_log_router)
    app.include_router(personal_data_router)
    app.include_router(dead_letters_router)
    app.include_router(cursors_router(consumer_tables))
    app.include_router(problem_pages_router)  # what every problem's `type` points at

    @app.get("/openapi.json", include_in_schema=False)
    async def openapi() -> JSONResponse:
        document: dict[str, Any] = await merged.document(app.openapi())
        return JSONResponse(document)

    # The pages' scripts and styles come from the gateway itself, never from a CDN: a
    # province's office network, or this machine, may have no internet.
    app.mount(DOCS_ASSETS_PATH, StaticFiles(directory=DOCS_ASSETS), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="ISHC Platform API",
            swagger_js_url=f"{DOCS_ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS_PATH}/favicon.png",
        )

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url="/openapi.json",
            title="ISHC Platform API",
            redoc_js_url=f"{DOCS_ASSETS_PATH}/redoc.standalone.js",
            redoc_favicon_url=f"{DOCS_ASSETS_PATH}/favicon.png",
            with_google_fonts=False,
        )

    app.router.add_route(
        "/api/v1/{path:path}",
        proxy_endpoint,
        include_in_schema=False,
        methods=sorted(PROXY_METHODS),
    )
