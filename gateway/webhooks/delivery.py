"""Posting deliveries: due ones in order per subscription and object, retried with backoff."""

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from sqlalchemy import Engine, and_, delete, exists, or_, update
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from common.clock import utcnow
from gateway.settings import GatewaySettings
from gateway.webhooks import signing
from gateway.webhooks.addresses import PrivateAddress
from gateway.webhooks.fanout import PENDING
from gateway.webhooks.models import (
    WebhookBackfill,
    WebhookDelivery,
    WebhookEventBody,
    WebhookSubscription,
)
from gateway.webhooks.network import WebhookNetwork, WebhookTransport

DELIVERED = "delivered"
FAILED = "failed"
BATCH = 50
log = logging.getLogger("ishc.webhooks")


@dataclass(frozen=True)
class Due:
    delivery_id: int
    url: str
    secret: str
    event_id: str
    body: str
    attempts: int


@dataclass(frozen=True)
class Attempt:
    due: Due
    at: datetime
    status_code: int | None
    error: str | None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def due_deliveries(session: Session, now: datetime, limit: int = BATCH) -> list[Due]:
    """Pending deliveries whose time has come and that no pending delivery of an earlier event
    of the same subscription and object is waiting before (events of one object arrive in the
    order they occurred); none of a subscription whose backfill is still reading."""
    earlier = aliased(WebhookDelivery)
    waiting_before = exists().where(
        and_(
            col(earlier.subscription_id) == col(WebhookDelivery.subscription_id),
            col(earlier.subject) == col(WebhookDelivery.subject),
            col(earlier.status) == PENDING,
            or_(
                col(earlier.occurred_at) < col(WebhookDelivery.occurred_at),
                and_(
                    col(earlier.occurred_at) == col(WebhookDelivery.occurred_at),
                    col(earlier.id) < col(WebhookDelivery.id),
                ),
            ),
        )
    )
    backfilling = exists().where(
        col(WebhookBackfill.subscription_id) == col(WebhookSubscription.id),
        col(WebhookBackfill.done) == False,  # noqa: E712
    )
    rows = session.exec(
        select(WebhookDelivery, WebhookSubscription, WebhookEventBody.body)
        .join(
            WebhookSubscription,
            col(WebhookSubscription.id) == col(WebhookDelivery.subscription_id),
        )
        .join(WebhookEventBody, col(WebhookEventBody.id) == col(WebhookDelivery.body_id))
        .where(
            WebhookDelivery.status == PENDING,
            col(WebhookDelivery.next_attempt_at) <= now,
            WebhookSubscription.active == True,  # noqa: E712
            ~waiting_before,
            ~backfilling,
        )
        .order_by(col(WebhookDelivery.id))
        .limit(limit)
    ).all()
    return [
        Due(d.id, s.url, s.secret, d.event_id, body, d.attempts)  # type: ignore[arg-type]
        for d, s, body in rows
    ]


def claim(session: Session, ids: list[int], now: datetime, lease: timedelta) -> set[int]:
    """The deliveries among `ids` that this sender takes: those still due, moved out of every
    other sender's reach until `now + lease` by one conditional update. Two senders that read
    the same due deliveries post each one once: on PostgreSQL the second waits on the rows and
    then finds them no longer due (SQLite writes one at a time)."""
    if not ids:
        return set()
    taken = session.execute(
        update(WebhookDelivery)
        .where(
            col(WebhookDelivery.id).in_(ids),
            col(WebhookDelivery.status) == PENDING,
            col(WebhookDelivery.next_attempt_at) <= now,
        )
        .values(next_attempt_at=now + lease)
        .returning(col(WebhookDelivery.id))
    )
    return set(taken.scalars())


class Sender:
    def __init__(self, engine: Engine, settings: GatewaySettings) -> None:
        self.engine = engine
        self.settings = settings
        network = WebhookNetwork(settings.webhook_allow_private_addresses)
        self.client = httpx.AsyncClient(
            timeout=settings.webhook_timeout_seconds,
            follow_redirects=False,
            transport=WebhookTransport(network, max_connections=BATCH),
        )
        self._wake = asyncio.Event()

    def wake(self) -> None:
        self._wake.set()

    async def run(self) -> None:
        while True:
            self._wake.clear()
            try:
                sent = await self.send_due()
            except Exception:
                log.exception("webhook deliveries not sent; trying again")
                sent = 0
            if sent < BATCH:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.settings.webhook_poll_seconds)

    async def send_due(self) -> int:
        due = await run_in_threadpool(self._due)
        attempts = await asyncio.gather(*(self._post(item) for item in due))
        await run_in_threadpool(self._save, attempts)
        return len(attempts)

    def _due(self) -> list[Due]:
        now = utcnow()
        with Session(self.engine) as session:
            due = due_deliveries(session, now)
            claimed = claim(session, [item.delivery_id for item in due], now, self._lease())
            session.commit()
        return [item for item in due if item.delivery_id in claimed]

    def _lease(self) -> timedelta:
        """How long a claimed delivery is this sender's: its post (connecting, sending and
        reading, each within the timeout) and the save after it. A sender that dies holding one
        (a restart) leaves it to the others when the lease runs out, so it is kept short."""
        return timedelta(seconds=3 * self.settings.webhook_timeout_seconds + 5)

    async def _post(self, due: Due) -> Attempt:
        body = due.body.encode()
        stamp = int(time.time())
        headers = signing.headers(due.secret, due.event_id, stamp, body)
        headers["User-Agent"] = "ISHC-Webhooks/1"
        try:
            response = await self.client.post(due.url, content=body, headers=headers)
        except PrivateAddress as exc:
            return Attempt(due, utcnow(), None, f"not sent: {exc}"[:500])
        except httpx.HTTPError as exc:
            return Attempt(due, utcnow(), None, f"{type(exc).__name__}: {exc}"[:500])
        error = None if 200 <= response.status_code < 300 else f"answered {response.status_code}"
        return Attempt(due, utcnow(), response.status_code, error)

    def _save(self, attempts: list[Attempt]) -> None:
        if not attempts:
            return
        with Session(self.engine) as session:
            for attempt in attempts:
                session.execute(
                    update(WebhookDelivery)
                    .where(col(WebhookDelivery.id) == attempt.due.delivery_id)
                    .values(**self._outcome(attempt))
                )
            session.commit()

    def _outcome(self, attempt: Attempt) -> dict[str, object]:
        tries = attempt.due.attempts + 1
        values: dict[str, object] = {
            "attempts": tries,
            "last_attempt_at": attempt.at,
            "last_status_code": attempt.status_code,
            "last_error": attempt.error,
        }
        if attempt.succeeded:
            return values | {
                "status": DELIVERED,
                "delivered_at": attempt.at,
                "next_attempt_at": None,
            }
        if tries >= self.settings.webhook_max_attempts:
            return values | {"status": FAILED, "next_attempt_at": None}
        pause = min(
            self.settings.webhook_retry_base_seconds * 2 ** (tries - 1),
            self.settings.webhook_retry_max_seconds,
        )
        return values | {"next_attempt_at": attempt.at + timedelta(seconds=pause)}


def prune_log(engine: Engine, before: datetime) -> int:
    """Drops the delivery log's finished entries (delivered or failed) made before `before`,
    and the bodies no delivery refers to any more (also those of removed subscriptions, whose
    deliveries went with them); answers how many deliveries it dropped."""
    with Session(engine) as session:
        result = session.execute(
            delete(WebhookDelivery).where(
                col(WebhookDelivery.status).in_([DELIVERED, FAILED]),
                col(WebhookDelivery.created_at) < before,
            )
        )
        referred = exists().where(col(WebhookDelivery.body_id) == col(WebhookEventBody.id))
        # A body locked by a fan-out (`fanout.store_bodies`) is about to be referred to: it is
        # skipped, and dropped by a later prune if it stays unused (SQLite has no row locks,
        # and needs none: it writes one transaction at a time).
        unused = select(col(WebhookEventBody.id)).where(~referred).with_for_update(skip_locked=True)
        session.execute(delete(WebhookEventBody).where(col(WebhookEventBody.id).in_(unused)))
        session.commit()
    return int(result.rowcount)  # type: ignore[attr-defined]
