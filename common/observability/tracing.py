"""OpenTelemetry traces: off unless an OTLP endpoint is set (`OTEL_EXPORTER_OTLP_ENDPOINT`, or
`OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`; OTLP over HTTP with protobuf).

On, each process sends its spans as `ishc-<component>` (or `OTEL_SERVICE_NAME`): every request
it serves (not the probes), every SQL statement (as text, with placeholders: never its values)
and every call it makes with httpx (service to service, webhooks) or aiohttp (the gateway's
proxy), which carry the W3C `traceparent`, so a request through the gateway is one trace. The
SDK's other standard variables apply (`OTEL_TRACES_SAMPLER`, `OTEL_BSP_SCHEDULE_DELAY`, …).

A URL's query never stays on a span: a member search's `q` may be a name.
"""

import os
from typing import Any

from fastapi import FastAPI
from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

ENDPOINT_VARIABLES = ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
NOT_TRACED = "://[^/]+/(healthz|readyz|metrics)$"
"""The probes (a regular expression on the URL without its query)."""
_URL_ATTRIBUTES = ("http.url", "url.full", "http.target")
_provider: TracerProvider | None = None


def tracing_configured() -> bool:
    """Whether this process sends traces: an OTLP endpoint is set and the SDK is not off."""
    disabled = os.environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"
    return not disabled and any(os.environ.get(name) for name in ENDPOINT_VARIABLES)


def without_query(span: Any, *_details: Any) -> None:
    """Takes the query off the span's URL attributes (an instrumentation's request hook)."""
    if not span.is_recording():
        return
    attributes = getattr(span, "attributes", None) or {}
    for name in _URL_ATTRIBUTES:
        value = attributes.get(name)
        if isinstance(value, str) and "?" in value:
            span.set_attribute(name, value.split("?", 1)[0])
    if "url.query" in attributes:
        span.set_attribute("url.query", "")


async def _without_query_async(span: Any, *details: Any) -> None:
    without_query(span, *details)


def _tracer_provider(component: str) -> TracerProvider:
    """The process's provider, made once: the HTTP clients are instrumented process-wide."""
    global _provider
    if _provider is None:
        name = os.environ.get("OTEL_SERVICE_NAME") or f"ishc-{component}"
        _provider = TracerProvider(resource=Resource.create({SERVICE_NAME: name}))
        _provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        trace.set_tracer_provider(_provider)
        HTTPXClientInstrumentor().instrument(
            tracer_provider=_provider,
            request_hook=without_query,
            async_request_hook=_without_query_async,
        )
        AioHttpClientInstrumentor().instrument(
            tracer_provider=_provider, request_hook=without_query
        )
    return _provider


def install_tracing(app: FastAPI, component: str) -> None:
    """Traces the app's requests and its database, when `tracing_configured()`."""
    if not tracing_configured():
        return
    provider = _tracer_provider(component)
    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=provider,
        excluded_urls=NOT_TRACED,
        server_request_hook=without_query,
        exclude_spans=["receive", "send"],
    )
    # Its declared range ends below SQLAlchemy 2.1, whose engine events it uses unchanged
    # (tests/test_observability.py sees the statements' spans).
    SQLAlchemyInstrumentor().instrument(
        engine=app.state.engine, tracer_provider=provider, skip_dep_check=True
    )
