"""The webhook deliveries in the gateway's `/metrics`: how many wait and how many failed."""

from fastapi import FastAPI
from sqlalchemy import Engine, func, select
from sqlmodel import col

from common.clock import utcnow
from common.db import reader
from common.observability.metrics import Reading, add_gauge
from gateway.webhooks.delivery import FAILED
from gateway.webhooks.fanout import PENDING
from gateway.webhooks.models import WebhookDelivery


def watch_deliveries(app: FastAPI) -> None:
    """`ishc_webhook_deliveries{status}`: pending (to post or to retry) and failed (every
    attempt refused, until the log's retention drops them); and the oldest pending one's age."""
    engine: Engine = app.state.engine

    def by_status() -> Reading:
        counted: dict[tuple[str, ...], float] = {(PENDING,): 0.0, (FAILED,): 0.0}
        with reader(engine).connect() as connection:
            rows = connection.execute(
                select(col(WebhookDelivery.status), func.count())
                .where(col(WebhookDelivery.status).in_([PENDING, FAILED]))
                .group_by(col(WebhookDelivery.status))
            )
            counted.update({(str(status),): float(count) for status, count in rows})
        return counted

    def oldest_pending_age() -> Reading:
        with reader(engine).connect() as connection:
            oldest = connection.execute(
                select(func.min(col(WebhookDelivery.created_at))).where(
                    col(WebhookDelivery.status) == PENDING
                )
            ).scalar()
        return max((utcnow() - oldest).total_seconds(), 0.0) if oldest is not None else 0.0

    add_gauge(
        app,
        "ishc_webhook_deliveries",
        "Webhook deliveries by status: pending (to post or to retry) and failed.",
        by_status,
        labels=["status"],
    )
    add_gauge(
        app,
        "ishc_webhook_oldest_pending_age_seconds",
        "Age of the oldest pending webhook delivery (0: none).",
        oldest_pending_age,
    )
