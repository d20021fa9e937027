"""A new subscription's backfill: the events that occurred from a chosen day until it was made.

The live fan-out (`fanout.fan_out`) gives a subscription what occurs from its creation on; a
subscription made with `backfill_from` also has one `WebhookBackfill` per service, which this
worker reads through that service's feed, or its stream with JetStream, from its start (both
keep each service's `<PREFIX>_EVENT_RETENTION_DAYS`), making the deliveries of the events in
the window. Its deliveries wait until every backfill is done (`delivery.due_deliveries`), then
go out in the order their events occurred. Any number of copies may run: each takes a
backfill by a lease, and a page's deliveries are written only while the lease is still its own.
"""

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Engine, exists, or_, update
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from common.clock import utcnow
from common.db import conflict_insert
from common.events.catalogue import EventType
from common.events.consumer import EventConsumer, FeedEvent
from gateway.webhooks.fanout import deliveries, remember_funded_clubs
from gateway.webhooks.models import WebhookBackfill, WebhookDelivery, WebhookSubscription

LEASE_SECONDS = 60
AFTER_WAKE_SECONDS = 0.3
LOOKS_AFTER_WAKE = 3
FUNDING = "funding"
log = logging.getLogger("ishc.webhooks")


@dataclass(frozen=True)
class Lease:
    """A backfill taken by this worker until `until`."""

    subscription_id: int
    service: str
    after: int
    until: datetime
    types: list[str]


def take(engine: Engine, services: set[str]) -> Lease | None:
    """The next unfinished backfill no other worker holds, leased to this one. A subscription's
    funding feed is read first: its allocations say which clubs a partner follows."""
    now = utcnow()
    until = now + timedelta(seconds=LEASE_SECONDS)
    funding = aliased(WebhookBackfill)
    funding_pending = exists().where(
        col(funding.subscription_id) == col(WebhookBackfill.subscription_id),
        col(funding.service) == FUNDING,
        col(funding.done) == False,  # noqa: E712
    )
    with Session(engine) as session, session.begin():
        row = session.exec(
            select(WebhookBackfill, WebhookSubscription)
            .join(
                WebhookSubscription,
                col(WebhookSubscription.id) == col(WebhookBackfill.subscription_id),
            )
            .where(
                col(WebhookBackfill.done) == False,  # noqa: E712
                col(WebhookBackfill.service).in_(services),
                or_(
                    col(WebhookBackfill.leased_until).is_(None),
                    col(WebhookBackfill.leased_until) < now,
                ),
                or_(col(WebhookBackfill.service) == FUNDING, ~funding_pending),
            )
            .order_by(col(WebhookBackfill.subscription_id), col(WebhookBackfill.service))
            .limit(1)
        ).first()
        if row is None:
            return None
        backfill, subscription = row
        # Taken only if nobody took it since it was read (the lease it had, or none).
        taken = session.execute(
            update(WebhookBackfill)
            .where(
                col(WebhookBackfill.subscription_id) == backfill.subscription_id,
                col(WebhookBackfill.service) == backfill.service,
                _leased_as(backfill.leased_until),
            )
            .values(leased_until=until)
        )
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            return None
        return Lease(
            backfill.subscription_id,
            backfill.service,
            backfill.after_position,
            until,
            [*subscription.event_types, EventType.ALLOCATION_RECORDED.value],
        )


def _leased_as(until: datetime | None) -> ColumnElement[bool]:
    column = col(WebhookBackfill.leased_until)
    return column.is_(None) if until is None else column == until


def record(engine: Engine, lease: Lease, events: list[FeedEvent], through: int, done: bool) -> bool:
    """Writes the page's deliveries and moves the backfill on, if the lease is still this
    worker's (False: another took it over, and this page is dropped)."""
    with Session(engine) as session, session.begin():
        moved = session.execute(
            update(WebhookBackfill)
            .where(
                col(WebhookBackfill.subscription_id) == lease.subscription_id,
                col(WebhookBackfill.service) == lease.service,
                col(WebhookBackfill.leased_until) == lease.until,
            )
            .values(after_position=through, done=done, leased_until=None)
        )
        if moved.rowcount != 1:  # type: ignore[attr-defined]
            return False
        remember_funded_clubs(session, events)
        subscription = session.get(WebhookSubscription, lease.subscription_id)
        if subscription is None or subscription.backfill_from is None:
            return True
        start = subscription.backfill_from

        def in_window(owned: WebhookSubscription, occurred: datetime) -> bool:
            return start <= occurred < owned.created_at

        rows, _shown = deliveries(session, events, [subscription], in_window)
        if rows:
            table = WebhookDelivery.__table__  # type: ignore[attr-defined]
            session.execute(
                conflict_insert(session, table).on_conflict_do_nothing(
                    index_elements=["subscription_id", "event_id"]
                ),
                rows,
            )
        return True


async def backfill_once(engine: Engine, feeds: Mapping[str, EventConsumer]) -> bool:
    """Reads one page of one backfill; False when there is nothing to read."""
    lease = await run_in_threadpool(take, engine, set(feeds))
    if lease is None:
        return False
    events, through, last = await feeds[lease.service].read_from(lease.after, lease.types)
    done = through >= last
    if not await run_in_threadpool(record, engine, lease, events, through, done):
        log.info("backfill of subscription %d taken over; page dropped", lease.subscription_id)
    return True


async def run_backfills(
    engine: Engine, feeds: Mapping[str, EventConsumer], wake: asyncio.Event, poll: float
) -> None:
    """The backfill worker: reads while there is something to read, then waits to be woken
    (a subscription made with `backfill_from`) or for `poll` seconds (another replica's).
    A wake comes before the subscription's transaction commits: a woken worker that finds
    nothing looks again a few times, shortly after."""
    soon = 0
    while True:
        wake.clear()
        try:
            busy = await backfill_once(engine, feeds)
        except Exception:
            log.exception("webhook backfill failed; trying again")
            busy = False
        if busy:
            soon = 0
            continue
        pause = AFTER_WAKE_SECONDS if soon > 0 else poll
        soon = max(0, soon - 1)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(wake.wait(), pause)
            soon = LOOKS_AFTER_WAKE
