"""Every request measured once: its access line and its request metrics.

The access line (`ishc.access`, INFO) has the request id, the method, the route template
(`/api/v1/clubs/{club_id}`, never the raw path or the query, where a search may carry a name),
the status, the duration, and who asked: the token's subject id and role only. A service names
its route template to the gateway in `X-ISHC-Route` on each answer; the gateway takes it off the
answer (`gateway.proxy`), so its own line and metrics name the service's template too.
"""

import logging
import time
from typing import Any

from fastapi.routing import iter_route_contexts
from opentelemetry import trace
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from common.middleware import HttpMiddleware
from common.observability.metrics import Metrics

ROUTE_HEADER = b"x-ishc-route"
UNMATCHED = "unmatched"
"""The route of a request no route matched (a 404): one label, whatever was asked."""
PROBES = frozenset({"/healthz", "/readyz", "/metrics"})
"""Counted in the metrics, but no access line: probes ask every few seconds."""
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
access_log = logging.getLogger("ishc.access")


def route_template(scope: Scope, status: int) -> str:
    """The template of the route that served the request: the one the router chose (noted by
    `RouteCapture`) or the gateway's proxy named; else, for a request refused before routing
    (a body too large, unreadable JSON), the route the router would have chosen; a 404's is
    `unmatched` (one label, whatever was asked, and no search for it)."""
    named = scope["state"].get("route_template")
    if isinstance(named, str):
        return named
    if status == 404:
        return UNMATCHED
    partial = None
    for route in iter_route_contexts(scope["app"].routes):
        match, _child = route.matches(scope)
        if match is Match.FULL and route.path:
            return route.path
        if match is Match.PARTIAL and partial is None:
            partial = route.path
    return partial or UNMATCHED


class RouteCapture(HttpMiddleware):
    """Innermost middleware: notes the template of the route the router chose, in the
    request's `state`. The outer middleware may see another scope than the router (a
    middleware that rewrites the body passes a copy on), but `state` is one dict for all.

    The template is the route's own path, which has its router's prefix; a router included
    with a further prefix of its own (none is) would need FastAPI's effective path."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def noting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                path = getattr(scope.get("route"), "path", None)
                if isinstance(path, str):
                    scope["state"]["route_template"] = path
            await send(message)

        await self.app(scope, receive, noting_send)


class AccessMiddleware(HttpMiddleware):
    """Outermost middleware: times the request, counts it, writes its access line; with
    `announce_route` (the services) adds `X-ISHC-Route` to the answer."""

    def __init__(self, app: ASGIApp, metrics: Metrics, announce_route: bool) -> None:
        super().__init__(app)
        self.metrics = metrics
        self.announce_route = announce_route

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        scope.setdefault("state", {})  # before any copy of the scope: one for all
        method = scope["method"] if scope["method"] in METHODS else "other"
        status = 500
        route: str | None = None

        async def measured_send(message: Message) -> None:
            nonlocal status, route
            if message["type"] == "http.response.start":
                status = message["status"]
                route = route_template(scope, status)
                # The span of the request ends with its answer's last part: named before.
                span = trace.get_current_span()
                if span.is_recording():
                    span.update_name(f"{method} {route}")
                    span.set_attribute("http.route", route)
                if self.announce_route:
                    message["headers"] = [
                        *message.get("headers", ()),
                        (ROUTE_HEADER, route.encode()),
                    ]
            await send(message)

        try:
            await self.app(scope, receive, measured_send)
        finally:
            route = route or route_template(scope, status)
            self._record(scope, method, route, status, time.perf_counter() - started)

    def _record(self, scope: Scope, method: str, route: str, status: int, seconds: float) -> None:
        self.metrics.requests.labels(method, route, str(status)).inc()
        self.metrics.duration.labels(method, route).observe(seconds)
        if route in PROBES or not access_log.isEnabledFor(logging.INFO):
            return
        state: dict[str, Any] = scope["state"]
        principal = state.get("principal")
        subject = getattr(principal, "subject", None)
        role = getattr(getattr(principal, "role", None), "value", None)
        fields: dict[str, Any] = {
            "request_id": state.get("request_id"),
            "method": method,
            "route": route,
            "status": status,
            "duration_ms": round(seconds * 1000, 1),
            "principal": subject,
            "role": role,
        }
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            fields["trace_id"] = trace.format_trace_id(context.trace_id)
        who = f"{subject} ({role})" if subject else "anonymous"
        access_log.info(
            "%s %s %s %.1f ms %s", method, route, status, fields["duration_ms"], who, extra=fields
        )
