"""Prometheus metrics of one process, at `GET /metrics`.

Each app has its own registry (one process per container: no multiprocess directory). The
request metrics are counted by `common.observability.access`; everything else is read when
Prometheus scrapes: the database pool, the outbox, the event cursors, and any gauge a
component adds with `add_gauge` (the gateway's webhook deliveries; the names kept for the
work that comes: `ishc_dead_letters`, `ishc_job_queue_depth`).

`/metrics` asks for no token and is not in the API document. The gateway routes only
`/api/v1/…` to the services, so a service's metrics are reachable on its own port, never
through the gateway; the gateway's `/metrics` is the gateway process's own.
"""

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Protocol

from fastapi import FastAPI, Request, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import Engine, column, func, inspect, select, table
from sqlalchemy.pool import QueuePool
from starlette.concurrency import run_in_threadpool

from common.clock import utcnow
from common.db import UTCDateTime, reader

log = logging.getLogger("ishc.metrics")

Reading = float | Mapping[tuple[str, ...], float] | None
"""A gauge's value now: one number, a number per label values, or None (nothing to say)."""

_OUTBOX = table(
    "outbox_events",
    column("position"),
    column("occurred_at", UTCDateTime),
)
_CURSORS = table("event_cursors", column("source"), column("position"))
_DEAD_LETTERS = table("dead_letters", column("source"), column("replayed_at"))


class FollowedFeed(Protocol):
    """What an event consumer tells about the feed it follows (`common.events.consumer`)."""

    @property
    def source(self) -> str: ...

    @property
    def feed_last_position(self) -> int | None:
        """The feed's last position when it was last read (None before the first read)."""

    @property
    def last_read_at(self) -> float | None:
        """When the feed last answered (Unix time)."""


class Metrics:
    """One app's registry, its request metrics and the feeds its workers follow."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "ishc_http_requests",
            "Requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "ishc_http_request_duration_seconds",
            "Time from a request's arrival to the end of its answer, by method and route template.",
            ["method", "route"],
            registry=self.registry,
        )
        self.feeds: list[FollowedFeed] = []


class ScrapeGauge(Collector):
    """A gauge whose value is read when Prometheus scrapes. A reading that fails leaves the
    gauge out of that scrape (logged), never the whole scrape."""

    def __init__(
        self, name: str, documentation: str, read: Callable[[], Reading], labels: Sequence[str]
    ) -> None:
        self.name = name
        self.documentation = documentation
        self.read = read
        self.labels = list(labels)

    def describe(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(self.name, self.documentation, labels=self.labels)

    def collect(self) -> Iterator[Metric]:
        try:
            value = self.read()
        except Exception as exc:
            log.warning("metric %s not read: %s", self.name, type(exc).__name__)
            return
        if value is None:
            return
        family = GaugeMetricFamily(self.name, self.documentation, labels=self.labels)
        if isinstance(value, Mapping):
            for labels, number in value.items():
                family.add_metric(list(labels), number)
        else:
            family.add_metric([], value)
        yield family


def add_gauge(
    app: FastAPI,
    name: str,
    documentation: str,
    read: Callable[[], Reading],
    labels: Sequence[str] = (),
) -> None:
    """Adds a gauge read at every scrape (in a worker thread: it may ask the database). With
    `labels`, `read` answers a number per tuple of label values. A name given twice is an
    error at start."""
    metrics: Metrics = app.state.metrics
    metrics.registry.register(ScrapeGauge(name, documentation, read, labels))


def watch_feed(app: FastAPI, feed: FollowedFeed) -> None:
    """Reports how far behind `feed`'s source this process's consumer is (on an app with
    metrics: `install_observability`)."""
    metrics: Metrics | None = getattr(app.state, "metrics", None)
    if metrics is not None and feed not in metrics.feeds:
        metrics.feeds.append(feed)


class _Tables:
    """Whether the component's database has a table, asked once it answers."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._known: dict[str, bool] = {}

    def has(self, name: str) -> bool:
        if name not in self._known:
            self._known[name] = inspect(self.engine).has_table(name)
        return self._known[name]


def _pool(engine: Engine, component: str) -> list[ScrapeGauge]:
    def reading(measure: Callable[[QueuePool], int]) -> Callable[[], Reading]:
        def read() -> Reading:
            pool = engine.pool
            return {(component,): float(measure(pool))} if isinstance(pool, QueuePool) else None

        return read

    return [
        ScrapeGauge(
            "ishc_db_pool_size",
            "Connections the engine's pool keeps.",
            reading(lambda pool: pool.size()),
            ["engine"],
        ),
        ScrapeGauge(
            "ishc_db_pool_checked_out",
            "Connections in use now.",
            reading(lambda pool: pool.checkedout()),
            ["engine"],
        ),
        ScrapeGauge(
            "ishc_db_pool_overflow",
            "Connections open beyond the pool's size now (up to its max_overflow).",
            reading(lambda pool: max(pool.overflow(), 0)),
            ["engine"],
        ),
    ]


class OutboxCollector(Collector):
    """The outbox's events that no reader of the feed has asked for yet (events are numbered
    when the feed is read), the oldest one's age, and the feed's last position. Nothing on a
    component without an outbox (the gateway)."""

    def __init__(self, engine: Engine, tables: _Tables) -> None:
        self.engine = engine
        self.tables = tables

    def _families(self) -> tuple[GaugeMetricFamily, GaugeMetricFamily, GaugeMetricFamily]:
        return (
            GaugeMetricFamily(
                "ishc_outbox_unread_events",
                "Committed events no reader of the feed has asked for yet.",
            ),
            GaugeMetricFamily(
                "ishc_outbox_oldest_unread_age_seconds",
                "Age of the oldest committed event no reader has asked for yet (0: none).",
            ),
            GaugeMetricFamily(
                "ishc_outbox_last_position",
                "The feed's last position (compare with its readers' "
                "ishc_event_consumer_position).",
            ),
        )

    def describe(self) -> Iterator[Metric]:
        yield from self._families()

    def collect(self) -> Iterator[Metric]:
        try:
            if not self.tables.has("outbox_events"):
                return
            with reader(self.engine).connect() as connection:
                count, oldest = connection.execute(
                    select(func.count(), func.min(_OUTBOX.c.occurred_at)).where(
                        _OUTBOX.c.position.is_(None)
                    )
                ).one()
                last = connection.execute(select(func.max(_OUTBOX.c.position))).scalar()
        except Exception as exc:
            log.warning("outbox metrics not read: %s", type(exc).__name__)
            return
        unread, age, position = self._families()
        unread.add_metric([], float(count))
        age.add_metric([], max((utcnow() - oldest).total_seconds(), 0.0) if oldest else 0.0)
        position.add_metric([], float(last or 0))
        yield from (unread, age, position)


def _consumers(engine: Engine, tables: _Tables, metrics: Metrics) -> list[ScrapeGauge]:
    def positions() -> dict[str, int] | None:
        if not tables.has("event_cursors"):
            return None
        with reader(engine).connect() as connection:
            rows = connection.execute(select(_CURSORS.c.source, _CURSORS.c.position))
            return {str(source): int(position) for source, position in rows}

    def position() -> Reading:
        found = positions()
        return None if found is None else {(s,): float(p) for s, p in found.items()}

    def lag() -> Reading:
        if not metrics.feeds:
            return None
        stored = positions() or {}
        return {
            (feed.source,): float(max(feed.feed_last_position - stored.get(feed.source, 0), 0))
            for feed in metrics.feeds
            if feed.feed_last_position is not None
        }

    def dead_letters() -> Reading:
        if not tables.has("dead_letters"):
            return None
        table = _DEAD_LETTERS
        with reader(engine).connect() as connection:
            rows = connection.execute(
                select(table.c.source, func.count())
                .where(table.c.replayed_at.is_(None))
                .group_by(table.c.source)
            )
            return {(str(source),): float(count) for source, count in rows}

    def last_read() -> Reading:
        return {
            (feed.source,): feed.last_read_at
            for feed in metrics.feeds
            if feed.last_read_at is not None
        }

    return [
        ScrapeGauge(
            "ishc_event_consumer_position",
            "How far this component has applied each source's event feed (its stored cursor).",
            position,
            ["source"],
        ),
        ScrapeGauge(
            "ishc_dead_letters",
            "Events of each source put aside because they kept failing, not replayed yet "
            "(an admin replays them at /api/v1/dead-letters).",
            dead_letters,
            ["source"],
        ),
        ScrapeGauge(
            "ishc_event_consumer_lag_events",
            "Events of each source's feed not applied yet: the feed's last position when this "
            "process last read it, less the stored cursor.",
            lag,
            ["source"],
        ),
        ScrapeGauge(
            "ishc_event_consumer_last_read_timestamp_seconds",
            "When each source's feed last answered this process's consumer (Unix time).",
            last_read,
            ["source"],
        ),
    ]


def install_metrics(app: FastAPI, component: str) -> Metrics:
    """The app's registry with the database's gauges, and its `GET /metrics`."""
    metrics = Metrics()
    app.state.metrics = metrics

    engine: Engine = app.state.engine
    tables = _Tables(engine)
    for gauge in [
        *_pool(engine, component),
        OutboxCollector(engine, tables),
        *_consumers(engine, tables, metrics),
    ]:
        metrics.registry.register(gauge)

    async def scrape(request: Request) -> Response:
        # The gauges read the database: off the event loop.
        body = await run_in_threadpool(generate_latest, request.app.state.metrics.registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    app.add_api_route("/metrics", scrape, methods=["GET"], include_in_schema=False)
    return metrics
