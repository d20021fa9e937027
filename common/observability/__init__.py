"""What every process tells about itself: logs, metrics and traces (docs/observability.md).

A component's app factory configures logging first (`configure_logging`) and, once the app and
its engine exist, calls `install_observability`: the access line and request metrics of every
request, `GET /metrics`, and traces when an OTLP endpoint is set.
"""

from fastapi import FastAPI
from starlette.middleware import Middleware

from common.observability.access import AccessMiddleware, RouteCapture
from common.observability.logs import configure_logging as _configure
from common.observability.metrics import install_metrics
from common.observability.tracing import install_tracing
from common.settings import ComponentSettings


def component_name(settings: ComponentSettings) -> str:
    """`gateway`, `clubs`, `loans`, `funding`: the settings' prefix, in lower case."""
    prefix = str(settings.model_config.get("env_prefix") or "ishc_")
    return prefix.rstrip("_").lower()


def configure_logging(settings: ComponentSettings) -> None:
    """The process's log lines: `<PREFIX>_LOG_LEVEL`, in `ISHC_LOG_FORMAT` (text or json)."""
    _configure(settings.log_level, settings.log_format, component_name(settings))


def install_observability(
    app: FastAPI, settings: ComponentSettings, announce_route: bool = True
) -> None:
    """Measures every request of `app` and serves its `/metrics`; traces it when configured.
    Called after every other middleware is added, so the access middleware is the outermost
    and times all of it. `announce_route`: each answer names its route template to the
    gateway (the services; the gateway's own answers go to the public)."""
    component = component_name(settings)
    metrics = install_metrics(app, component)
    app.add_middleware(AccessMiddleware, metrics=metrics, announce_route=announce_route)
    app.user_middleware.append(Middleware(RouteCapture))  # the innermost: next to the router
    install_tracing(app, component)
