"""The gateway's webhook tables, and where it keeps how far it has read each service's events."""

from datetime import datetime

from sqlalchemy import JSON, Column, ForeignKey, Index, Integer, Text, UniqueConstraint
from sqlmodel import Field

from common.clock import utcnow
from common.db import UTCDateTime
from common.events.consumer import ConsumerTables
from gateway.models import GatewayBase

consumer_tables = ConsumerTables(GatewayBase.metadata)


class WebhookSubscription(GatewayBase, table=True):
    __tablename__ = "webhook_subscriptions"

    id: int | None = Field(default=None, primary_key=True)
    owner: str = Field(max_length=100, index=True)
    """The subject of the client or person who subscribed (`client:ngo-x`): its scope applies."""
    url: str = Field(max_length=2000)
    event_types: list[str] = Field(sa_type=JSON, nullable=False)
    description: str = Field(default="", max_length=500)
    secret: str = Field(max_length=100)
    """Kept readable: the gateway signs with it (shown to the subscriber once)."""
    active: bool = True
    backfill_from: datetime | None = Field(default=None, sa_type=UTCDateTime)
    """The subscription also gets the events that occurred from then until its creation
    (`WebhookBackfill`); its deliveries wait until they are all found."""
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class WebhookBackfill(GatewayBase, table=True):
    """How far a subscription's backfill has read one service's feed. A worker holds it by a
    lease (`leased_until`), so two copies of the worker never read the same page at once."""

    __tablename__ = "webhook_backfills"

    subscription_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"),
            primary_key=True,
        )
    )
    service: str = Field(primary_key=True, max_length=20)
    after_position: int = 0
    done: bool = False
    leased_until: datetime | None = Field(default=None, sa_type=UTCDateTime)


class WebhookEventBody(GatewayBase, table=True):
    """The JSON posted for one event to the subscribers who share a view of it, stored once:
    most subscribers of an event get the same body, which their deliveries refer to."""

    __tablename__ = "webhook_event_bodies"
    __table_args__ = (UniqueConstraint("event_id", "digest"),)

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(max_length=36)
    digest: str = Field(max_length=64)
    """The SHA-256 of `body` in hex: which of the event's views this is."""
    body: str = Field(sa_column=Column(Text, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class WebhookDelivery(GatewayBase, table=True):
    """One event for one subscription, and how posting it went."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index(
            "uq_webhook_deliveries_subscription_id_event_id",
            "subscription_id",
            "event_id",
            unique=True,
        ),
        # The sender's questions: what is due now, and is an older one of its object waiting.
        Index("ix_webhook_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
        Index("ix_webhook_deliveries_subscription_id_subject", "subscription_id", "subject"),
    )

    id: int | None = Field(default=None, primary_key=True)
    subscription_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"), nullable=False
        )
    )
    event_id: str = Field(max_length=36)
    event_type: str = Field(max_length=40)
    subject: str = Field(max_length=80)
    occurred_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    """When the event occurred: one object's events are posted in this order (a backfill adds
    older events after newer ones)."""
    body_id: int = Field(
        sa_column=Column(Integer, ForeignKey("webhook_event_bodies.id"), nullable=False, index=True)
    )
    """What is posted, byte for byte (kept for retries and redelivery). A body still referred
    to cannot be deleted; `delivery.prune_log` drops those nothing refers to any more."""
    status: str = Field(max_length=20)
    attempts: int = 0
    next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, max_length=500)
    delivered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class FundedClub(GatewayBase, table=True):
    """Which funder's money reached which club (from `allocation.recorded`): what a partner's
    webhooks may tell it about."""

    __tablename__ = "webhook_funded_clubs"

    funder_id: int = Field(primary_key=True)
    club_id: int = Field(primary_key=True)
