"""Forwarding public requests to the services, by a fixed table of path prefixes.

The upstream is chosen only from the first path segment after `/api/v1/`, looked up in
`ROUTES`; nothing the client sends (Host, headers) can point the gateway elsewhere.
The client is aiohttp because it was measured fastest here (see bench/gateway.py).
"""

from dataclasses import dataclass

import aiohttp
from starlette.requests import Request
from starlette.responses import Response

from common.auth import Role, bearer_token
from common.problems import Forbidden, GatewayTimeout, NotFound, ServiceUnavailable

API_PREFIX = "/api/v1/"
EVERY_ROLE = frozenset(Role)
ADMIN, OFFICER, MANAGER, BANK, PARTNER, SERVICE = (
    Role.ADMIN,
    Role.OFFICER,
    Role.CLUB_MANAGER,
    Role.BANK,
    Role.PARTNER,
    Role.SERVICE,
)


@dataclass(frozen=True)
class Route:
    service: str
    roles: frozenset[Role]


def _route(service: str, *roles: Role) -> Route:
    return Route(service, frozenset(roles))


# Which roles may reach which prefix at all; each service then checks the object-level scope.
ROUTES: dict[str, Route] = {
    "locations": _route("clubs", ADMIN, OFFICER, MANAGER, PARTNER, SERVICE),
    "quota-profiles": _route("clubs", ADMIN, OFFICER, MANAGER, PARTNER, SERVICE),
    "clubs": _route("clubs", ADMIN, OFFICER, MANAGER, PARTNER, SERVICE),
    "members": _route("clubs", ADMIN, OFFICER, MANAGER, SERVICE),
    "funds": _route("loans", ADMIN, OFFICER, MANAGER, SERVICE),
    "loans": _route("loans", ADMIN, OFFICER, MANAGER, SERVICE),
    "bank-loans": _route("loans", ADMIN, OFFICER, BANK, SERVICE),
    "funders": _route("funding", ADMIN, OFFICER, PARTNER, SERVICE),
    "programmes": _route("funding", ADMIN, OFFICER, MANAGER, PARTNER, SERVICE),
    "plans": _route("funding", ADMIN, OFFICER, PARTNER, SERVICE),
    "commitments": _route("funding", ADMIN, OFFICER, PARTNER, SERVICE),
    "receipts": _route("funding", ADMIN, OFFICER, PARTNER, SERVICE),
    "allocations": _route("funding", ADMIN, OFFICER, PARTNER, SERVICE),
    "funded-clubs": _route("funding", ADMIN, OFFICER, PARTNER, SERVICE),
}
LOCAL_PREFIXES = frozenset({"users", "clients"})
"""Served by the gateway itself (admin only)."""

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
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


def route_for(path: str) -> tuple[str, Route]:
    prefix = path[len(API_PREFIX) :].split("/", 1)[0]
    route = ROUTES.get(prefix)
    if route is None:
        raise NotFound(f"No API at {API_PREFIX}{prefix}.")
    return prefix, route


def authorise(request: Request, route: Route, prefix: str) -> None:
    principal = request.app.state.verifier.verify(
        bearer_token(request.headers.get("authorization"))
    )
    if principal.role not in route.roles:
        raise Forbidden(f"The role {principal.role.value} may not use {API_PREFIX}{prefix}.")
    if principal.role is Role.SERVICE and request.method not in READ_METHODS:
        raise Forbidden("Service tokens may not make changes through the public gateway.")


def upstream_headers(request: Request) -> list[tuple[str, str]]:
    headers = [
        (k.decode("latin-1"), v.decode("latin-1"))
        for k, v in request.scope["headers"]
        if k not in HOP_BY_HOP and not k.startswith(INTERNAL_PREFIXES)
    ]
    client = request.client.host if request.client else "unknown"
    headers += [
        ("x-forwarded-for", client),
        ("x-forwarded-proto", request.url.scheme),
        ("x-forwarded-host", request.headers.get("host", "")),
    ]
    return headers


class Forwarder:
    """Sends one request upstream and turns every failure into a 503 or 504 problem."""

    def __init__(
        self, upstreams: dict[str, str], connect_timeout: float, total_timeout: float
    ) -> None:
        self.upstreams = {name: url.rstrip("/") for name, url in upstreams.items()}
        self.timeout = aiohttp.ClientTimeout(total=total_timeout, sock_connect=connect_timeout)
        self._session: aiohttp.ClientSession | None = None

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            connector = aiohttp.TCPConnector(limit=200, ttl_dns_cache=300, keepalive_timeout=30)
            # Bodies pass through as the service encoded them.
            self._session = aiohttp.ClientSession(
                connector=connector, auto_decompress=False, skip_auto_headers=("User-Agent",)
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def forward(self, request: Request, service: str) -> Response:
        raw_path = request.scope.get("raw_path") or request.url.path.encode()
        query = request.scope.get("query_string", b"")
        url = (
            self.upstreams[service]
            + raw_path.decode("latin-1")
            + ("?" + query.decode("latin-1") if query else "")
        )
        body = await request.body()
        try:
            async with self.session.request(
                request.method,
                url,
                headers=upstream_headers(request),
                data=body or None,
                timeout=self.timeout,
                allow_redirects=False,
            ) as upstream:
                content = await upstream.read()
                headers = [
                    (k, v) for k, v in upstream.headers.items() if k.lower() not in RESPONSE_SKIP
                ]
                response = Response(content, status_code=upstream.status)
                response.raw_headers = [
                    *[(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers],
                    (b"content-length", str(len(content)).encode()),
                ]
                return response
        except TimeoutError as exc:
            raise GatewayTimeout(f"The {service} service did not answer in time.") from exc
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, OSError) as exc:
            raise ServiceUnavailable(f"The {service} service is not reachable.") from exc


async def proxy_endpoint(request: Request) -> Response:
    prefix, route = route_for(request.url.path)
    authorise(request, route, prefix)
    return await request.app.state.forwarder.forward(request, route.service)
