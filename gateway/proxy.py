"""Forwarding public requests to the services, by a fixed table of path prefixes.

The upstream is chosen only from the first path segment after `/api/v1/`, looked up in
`ROUTES`; nothing the client sends (Host, headers) can point the gateway elsewhere.
The client is aiohttp because it was measured fastest here (see bench/gateway.py).
"""

import contextlib
import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from common.allow import methods_at
from common.auth import Principal, Role, bearer_token
from common.db import READ_METHODS
from common.observability.access import ROUTE_HEADER
from common.personal_data import SUBJECTS_HEADER, subjects
from common.problem_codes import Code
from common.problems import (
    BadRequest,
    Forbidden,
    GatewayTimeout,
    MethodNotAllowed,
    NotFound,
    Problem,
    ServiceUnavailable,
    problem_response,
)
from common.scope import Kind, readers
from common.serving import SERVER_KEEPALIVE_SECONDS
from gateway.access_log import AccessLog

API_PREFIX = "/api/v1/"
AnswerT = TypeVar("AnswerT")


@dataclass(frozen=True)
class Route:
    service: str
    roles: frozenset[Role]


def _route(service: str, kind: Kind) -> Route:
    """A prefix of `service` whose objects are of `kind`: the roles that reach any of them
    pass here; each service then checks the object's own scope."""
    return Route(service, readers(kind))


ROUTES: dict[str, Route] = {
    "locations": _route("clubs", Kind.CLUB),
    "quota-profiles": _route("clubs", Kind.CLUB),
    "clubs": _route("clubs", Kind.CLUB),
    "members": _route("clubs", Kind.MEMBER),
    "funds": _route("loans", Kind.CLUB_MONEY),
    "loans": _route("loans", Kind.CLUB_MONEY),
    "bank-loans": _route("loans", Kind.BANK_LOAN),
    "funders": _route("funding", Kind.FLOW),
    # the programmes are reference data for everyone who reads the registry
    "programmes": _route("funding", Kind.CLUB),
    "indicators": _route("funding", Kind.CLUB),
    # the lists of activities, sources and funder types: for everyone who reads the registry
    "reference": _route("funding", Kind.CLUB),
    "plans": _route("funding", Kind.PLAN),
    "reporting-duties": _route("funding", Kind.PLAN),
    "commitments": _route("funding", Kind.FLOW),
    "receipts": _route("funding", Kind.FLOW),
    "allocations": _route("funding", Kind.FLOW),
    "funded-clubs": _route("funding", Kind.FLOW),
    "reports": _route("funding", Kind.FLOW),
}
LOCAL_PREFIXES = frozenset(
    {"users", "clients", "app-clients", "webhooks", "personal-data", "dead-letters"}
)
"""Served by the gateway itself: people, API clients and apps (admin only), webhook subscriptions,
the access log of personal data (with `GATEWAY_OWN`), the events put aside (admin only)."""

PROXY_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"te",
        b"trailer",
        b"trailers",
        b"transfer-encoding",
        b"upgrade",
        b"host",
        b"content-length",
    }
)
INTERNAL_PREFIXES = (b"x-forwarded-", b"x-real-ip", b"forwarded", b"x-ishc-")
RESPONSE_SKIP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "content-length", "server", "date"}
)
_RESPONSE_SKIP_RAW = frozenset(name.encode() for name in RESPONSE_SKIP)
_SUBJECTS = SUBJECTS_HEADER.lower().encode()


UPSTREAM_KEEPALIVE_SECONDS = SERVER_KEEPALIVE_SECONDS // 2
"""How long an idle connection to a service is kept for reuse: well under the time the service
keeps it (`common.serving`), so the gateway never sends on one the service is closing."""
REPLAYABLE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


def replayable(request: Request) -> bool:
    """Whether sending the request twice does what sending it once does: an idempotent method,
    or a write that carries an `Idempotency-Key`."""
    return request.method in REPLAYABLE_METHODS or "idempotency-key" in request.headers


GATEWAY_OWN = re.compile(r"^/api/v1/members/[^/]+/(access-log|personal-data)$")
"""Paths under a proxied prefix that the gateway answers itself (gateway/access_log.py,
gateway/personal_data.py)."""


DOT_SEGMENTS = frozenset({".", ".."})


def refuse_dot_segments(path: str) -> None:
    """A path with a `.` or `..` segment (`%2e` decoded) is refused: the HTTP client that
    forwards it resolves them, and the service would answer another path than the one whose
    prefix the role was checked for (`/api/v1/clubs/../members/1` reached the members' routes
    as a partner, who may not use them; the service refused it too)."""
    if not DOT_SEGMENTS.isdisjoint(path.split("/")):
        raise BadRequest(
            "The path has a '.' or '..' segment; send the path it stands for.",
            code=Code.DOT_SEGMENTS,
        )


def route_for(path: str) -> tuple[str, Route]:
    refuse_dot_segments(path)
    prefix = path[len(API_PREFIX) :].split("/", 1)[0]
    route = ROUTES.get(prefix)
    if route is None:
        raise NotFound(f"No API at {API_PREFIX}{prefix}.")
    return prefix, route


def _header(scope: Scope, name: bytes) -> str | None:
    """The first value of a header (as `request.headers.get`), without building `Headers`."""
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def authorise(request: Request, route: Route, prefix: str) -> Principal:
    principal: Principal = request.app.state.verifier.verify(
        bearer_token(_header(request.scope, b"authorization"))
    )
    if principal.role not in route.roles:
        raise Forbidden(
            f"The role {principal.role.value} may not use {API_PREFIX}{prefix}.",
            code=Code.ROLE_FORBIDDEN,
        )
    if principal.role is Role.SERVICE and request.method not in READ_METHODS:
        raise Forbidden(
            "Service tokens may not make changes through the public gateway.",
            code=Code.SERVICE_TOKEN_READ_ONLY,
        )
    request.state.allowance = request.app.state.fair_use.take(principal)
    request.state.principal = principal  # for the access line
    return principal


def upstream_headers(request: Request) -> list[tuple[str, str]]:
    # Straight from the ASGI scope: `request.url` and `request.headers` cost more than the rest.
    scope = request.scope
    headers = []
    host = None
    for k, v in scope["headers"]:
        if k in HOP_BY_HOP or k.startswith(INTERNAL_PREFIXES):
            if k == b"host" and host is None:
                host = v.decode("latin-1")
        else:
            headers.append((k.decode("latin-1"), v.decode("latin-1")))
    client = scope.get("client")
    headers += [
        ("x-forwarded-for", client[0] if client else "unknown"),
        ("x-forwarded-proto", scope.get("scheme", "http")),
        ("x-forwarded-host", host or ""),
    ]
    return headers


@contextlib.contextmanager
def _upstream_failures(service: str) -> Iterator[None]:
    """A service that does not answer in time is a 504 problem; one that cannot be reached,
    or breaks off its answer, a 503."""
    try:
        yield
    except TimeoutError as exc:
        raise GatewayTimeout(f"The {service} service did not answer in time.") from exc
    except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, OSError) as exc:
        raise ServiceUnavailable(
            f"The {service} service is not reachable.", code=Code.SERVICE_UNREACHABLE
        ) from exc


async def _once_more_if_dropped(send: Callable[[], Awaitable[AnswerT]], replay: bool) -> AnswerT:
    """`send()`, and once more on a fresh connection when the service closed a pooled one as
    the request went out on it (a restart, or an idle connection reaped at that moment), if
    the request may be replayed."""
    try:
        return await send()
    except aiohttp.ServerDisconnectedError:
        if not replay:
            raise
        return await send()


class Forwarder:
    """Sends one request upstream and turns every failure into a 503 or 504 problem.

    `changed(service)` is called after a change the service accepted (its events follow); an
    answer that shows members' personal data is written to `access_log` before it leaves."""

    def __init__(
        self,
        upstreams: dict[str, str],
        connect_timeout: float,
        total_timeout: float,
        changed: Callable[[str], None] = lambda _service: None,
        access_log: AccessLog | None = None,
    ) -> None:
        self.upstreams = {name: url.rstrip("/") for name, url in upstreams.items()}
        self.changed = changed
        self.access_log = access_log
        self.timeout = aiohttp.ClientTimeout(total=total_timeout, sock_connect=connect_timeout)
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(
                limit=200, ttl_dns_cache=300, keepalive_timeout=UPSTREAM_KEEPALIVE_SECONDS
            )
            # Bodies pass through as the service encoded them. No cookie jar: the session is
            # shared by every client, so a cookie one upstream answer set must not reach others.
            self._session = aiohttp.ClientSession(
                connector=connector,
                auto_decompress=False,
                # A client that did not ask for compression gets none: only its own
                # Accept-Encoding goes upstream (and none on the gateway's own questions).
                skip_auto_headers=("User-Agent", "Accept-Encoding"),
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def ask(
        self,
        request: Request,
        service: str,
        path: str,
        params: list[tuple[str, Any]] | None = None,
        method: str = "GET",
    ) -> tuple[int, bytes]:
        """A request without a body (a GET unless said) to the service with the caller's own
        token (its scope decides): the status and body, neither passed on nor logged as a read.
        A POST is not sent again on a dropped connection."""
        authorization = _header(request.scope, b"authorization") or ""
        request_id = _header(request.scope, b"x-request-id") or ""

        async def get() -> tuple[int, bytes]:
            async with self.session.request(
                method,
                self.upstreams[service] + path,
                params=params,
                headers={"authorization": authorization, "x-request-id": request_id},
                timeout=self.timeout,
            ) as upstream:
                return upstream.status, await upstream.read()

        with _upstream_failures(service):
            return await _once_more_if_dropped(get, replay=method in REPLAYABLE_METHODS)

    async def may_read(self, request: Request, service: str, path: str) -> bool:
        """Whether the caller's own token reads `path` from the service."""
        status, _body = await self.ask(request, service, path)
        return status == 200

    async def _send(self, request: Request, url: str, body: bytes) -> tuple[Response, list[int]]:
        """The service's answer to the request, and the members it showed."""
        async with self.session.request(
            request.method,
            url,
            headers=upstream_headers(request),
            data=body or None,
            timeout=self.timeout,
            allow_redirects=False,
        ) as upstream:
            content = await upstream.read()
            # The raw header bytes pass through as the service sent them.
            raw_headers = []
            shown: list[int] = []
            for k, v in upstream.raw_headers:
                name = k.lower()
                if name == _SUBJECTS:
                    shown = subjects(v)
                elif name == ROUTE_HEADER:  # the service's route template, for the access line
                    request.state.route_template = v.decode("latin-1")
                elif name not in _RESPONSE_SKIP_RAW:
                    raw_headers.append((name, v))
            raw_headers.append((b"content-length", str(len(content)).encode()))
            allowance = getattr(request.state, "allowance", None)
            if allowance is not None:
                raw_headers += allowance.headers()
            response = Response(content, status_code=upstream.status)
            response.raw_headers = raw_headers
            return response, shown

    async def forward(self, request: Request, service: str, principal: Principal) -> Response:
        raw_path = request.scope.get("raw_path") or request.url.path.encode()
        query = request.scope.get("query_string", b"")
        url = (
            self.upstreams[service]
            + raw_path.decode("latin-1")
            + ("?" + query.decode("latin-1") if query else "")
        )
        body = await request.body()
        with _upstream_failures(service):
            response, shown = await _once_more_if_dropped(
                lambda: self._send(request, url, body), replay=replayable(request)
            )
        if request.method not in READ_METHODS and response.status_code < 400:
            self.changed(service)
        if shown and self.access_log is not None:
            await self.access_log.record(request, principal, service, shown)
        return response


async def proxy_endpoint(request: Request) -> Response:
    # A path the gateway serves itself, asked with a method it does not serve there (it was
    # 404 "No API at /api/v1/users" for a PUT).
    allowed = methods_at(request.app, request.url.path)
    if allowed:
        raise MethodNotAllowed("Method Not Allowed", headers={"Allow": ", ".join(sorted(allowed))})
    prefix, route = route_for(request.url.path)
    principal = authorise(request, route, prefix)
    forwarder: Forwarder = request.app.state.forwarder
    return await forwarder.forward(request, route.service, principal)


class ProxyMiddleware:
    """Serves the `ROUTES` prefixes ahead of FastAPI's exception middleware, router and endpoint
    wrapper: skipping them took the gateway's CPU per proxied request down by about a quarter
    (bench/gateway.py).

    Installed inside the request-id, body-limit and content-type middleware, so those still
    apply. It does what the `/api/v1/{path:path}` route does, through the same functions, and
    renders problems with the same handler. Everything else (local prefixes, unknown prefixes,
    other methods) goes on to FastAPI unchanged.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in PROXY_METHODS:
            path: str = scope["path"]
            if path.startswith(API_PREFIX) and not GATEWAY_OWN.match(path):
                prefix = path[len(API_PREFIX) :].split("/", 1)[0]
                route = ROUTES.get(prefix)
                if route is not None:
                    request = Request(scope, receive)
                    try:
                        refuse_dot_segments(path)
                        principal = authorise(request, route, prefix)
                        forwarder = request.app.state.forwarder
                        response = await forwarder.forward(request, route.service, principal)
                    except Problem as problem:
                        response = problem_response(problem, request)
                    await response(scope, receive, send)
                    return
        await self.app(scope, receive, send)
