"""From the services' events to deliveries: one per subscription that may see the event."""

import hashlib
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import insert
from sqlmodel import Session, select

from common.clock import utcnow
from common.db import conflict_insert
from common.events.catalogue import EventType
from common.events.consumer import FeedEvent
from gateway.models import ApiClient, ScopeColumns, User
from gateway.webhooks.models import (
    FundedClub,
    WebhookDelivery,
    WebhookEventBody,
    WebhookSubscription,
    consumer_tables,
)
from gateway.webhooks.rules import may_receive, payload

PENDING = "pending"


def owner_of(session: Session, subject: str) -> ScopeColumns | None:
    """The person or client a subscription belongs to, as they are now."""
    kind, _, name = subject.partition(":")
    if kind == "user":
        return session.exec(select(User).where(User.username == name)).first()
    if kind == "client":
        return session.exec(select(ApiClient).where(ApiClient.client_id == name)).first()
    return None


def remember_funded_clubs(session: Session, events: Iterable[FeedEvent]) -> list[FeedEvent]:
    allocations = [e for e in events if e.type == EventType.ALLOCATION_RECORDED]
    for funder_id, club_id in {(e.data["funder_id"], e.data["club_id"]) for e in allocations}:
        if session.get(FundedClub, (funder_id, club_id)) is None:
            session.add(FundedClub(funder_id=funder_id, club_id=club_id))
    session.flush()
    return allocations


InWindow = Callable[[WebhookSubscription, datetime], bool]
"""Whether an event that occurred then is one the subscription gets from this reader."""


def from_creation(subscription: WebhookSubscription, occurred: datetime) -> bool:
    """The live feed's window: a subscription hears what happens from its creation on, however
    late the feed brings an earlier event to the gateway (earlier ones are its backfill's)."""
    return occurred >= subscription.created_at


def fan_out(session: Session, events: list[FeedEvent]) -> list[FeedEvent]:
    """The consumer's page handler: deliveries for every subscriber that may see each event.
    Answers the events it used (most, e.g. a bank batch's, concern no subscriber)."""
    used = remember_funded_clubs(session, events)
    for erased in (e for e in events if e.type == EventType.MEMBER_ERASED):
        consumer_tables.forget_personal(session, erased.subject)
    subscriptions = session.exec(
        select(WebhookSubscription).where(WebhookSubscription.active == True)  # noqa: E712
    ).all()
    if not subscriptions or not events:
        return used
    rows, shown = deliveries(session, events, subscriptions, from_creation)
    used += [e for e in events if e.id in shown and e.type != EventType.ALLOCATION_RECORDED]
    if rows:
        session.execute(insert(WebhookDelivery), rows)
    return used


def deliveries(
    session: Session,
    events: list[FeedEvent],
    subscriptions: Sequence[WebhookSubscription],
    in_window: InWindow,
) -> tuple[list[dict[str, Any]], set[str]]:
    """The delivery rows of these events for the subscriptions whose owner may see them, and
    the ids of the events that went to someone. Their bodies are stored here, each of an event
    once (`store_bodies`), and the rows refer to them."""
    owners = {s.owner: owner_of(session, s.owner) for s in subscriptions}
    funded: dict[tuple[int, int], bool] = {}

    def funded_by(funder_id: int, club_id: int) -> bool:
        key = (funder_id, club_id)
        if key not in funded:
            funded[key] = session.get(FundedClub, key) is not None
        return funded[key]

    now = utcnow()
    rows: list[tuple[dict[str, Any], str]] = []  # with the digest of the row's body
    bodies: dict[tuple[str, str], str] = {}  # by event id and digest
    shown: set[str] = set()
    for event in events:
        # The digest of each owner's view (None: nothing): a bank posting is cut to each area.
        views: dict[str, str | None] = {}
        occurred = datetime.fromisoformat(event.occurred_at)
        for subscription in subscriptions:
            owner = owners[subscription.owner]
            if event.type not in subscription.event_types or owner is None:
                continue
            if not in_window(subscription, occurred):
                continue
            if not may_receive(owner, event, funded_by):
                continue
            if subscription.owner not in views:
                view = payload(event, owner)
                views[subscription.owner] = None if view is None else keep(bodies, event, view)
            digest = views[subscription.owner]
            if digest is None:
                continue
            row = {
                "subscription_id": subscription.id,
                "event_id": event.id,
                "event_type": event.type,
                "subject": event.subject,
                "occurred_at": occurred,
                "status": PENDING,
                "attempts": 0,
                "next_attempt_at": now,
                "created_at": now,
            }
            rows.append((row, digest))
            shown.add(event.id)
    ids = store_bodies(session, bodies, now)
    return [row | {"body_id": ids[row["event_id"], digest]} for row, digest in rows], shown


def keep(bodies: dict[tuple[str, str], str], event: FeedEvent, view: dict[str, Any]) -> str:
    """Adds the JSON of this view of the event to `bodies`; answers its SHA-256 in hex."""
    body = orjson.dumps(view).decode()
    digest = hashlib.sha256(body.encode()).hexdigest()
    bodies[event.id, digest] = body
    return digest


def store_bodies(
    session: Session, bodies: dict[tuple[str, str], str], now: datetime
) -> dict[tuple[str, str], int]:
    """The ids of these bodies (by event id and digest), inserted unless stored already (by
    another worker fanning out the same events, or a backfill after the live feed).

    One upsert that answers every id, new or not: on PostgreSQL it also locks the rows until
    the deliveries referring to them are committed, so that `delivery.prune_log` (which skips
    locked bodies) cannot drop one that no delivery refers to yet. Sorted, so two workers
    storing the same bodies take their locks in the same order."""
    if not bodies:
        return {}
    table = WebhookEventBody.__table__  # type: ignore[attr-defined]
    statement = conflict_insert(session, table)
    upsert = statement.on_conflict_do_update(
        index_elements=["event_id", "digest"], set_={"digest": statement.excluded.digest}
    ).returning(table.c.id, table.c.event_id, table.c.digest)
    values = [
        {"event_id": event_id, "digest": digest, "body": body, "created_at": now}
        for (event_id, digest), body in sorted(bodies.items())
    ]
    stored = session.execute(upsert, values)
    return {(event_id, digest): body_id for body_id, event_id, digest in stored}
