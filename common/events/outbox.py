"""A service's outbox: events written with the change, numbered once committed, read as a feed."""

import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Connection,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    delete,
    func,
    insert,
    select,
    text,
)
from sqlmodel import Session

from common.clock import utcnow
from common.db import UTCDateTime
from common.events.catalogue import EventType
from common.middleware import current_request_id

SEQUENCER_LOCK = 7_243_001
"""PostgreSQL advisory lock key: one sequencer at a time, so positions never collide."""


@dataclass(frozen=True)
class Scope:
    """Whom an event concerns, so that a subscriber sees only the events of objects it may see."""

    province_code: str | None = None
    commune_code: str | None = None
    club_id: int | None = None
    funder_id: int | None = None
    bank_code: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {name: value for name, value in self.__dict__.items() if value is not None}


@dataclass(frozen=True)
class Event:
    type: EventType
    subject: str
    """The object the event is about (`club:12`): events of one subject are delivered in order."""
    data: dict[str, Any]
    scope: Scope = field(default_factory=Scope)


class Outbox:
    """The `outbox_events` table of one service's database, and what is done with it."""

    def __init__(self, metadata: MetaData) -> None:
        self.table = Table(
            "outbox_events",
            metadata,
            Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
            Column("event_id", String(36), nullable=False, unique=True),
            Column("type", String(40), nullable=False),
            Column("subject", String(80), nullable=False),
            Column("scope", JSON, nullable=False),
            Column("data", JSON, nullable=False),
            Column("occurred_at", UTCDateTime, nullable=False),
            Column("position", BigInteger, nullable=True, unique=True),
            Column("request_id", String(64), nullable=True),
        )
        Index(
            "ix_outbox_events_unsequenced",
            self.table.c.id,
            postgresql_where=self.table.c.position.is_(None),
            sqlite_where=self.table.c.position.is_(None),
        )
        self.relays = Table(
            "outbox_relays",
            metadata,
            Column("stream", String(40), primary_key=True),
            Column("position", BigInteger, nullable=False),
            Column("holder", String(40), nullable=True),
            Column("leased_until", UTCDateTime, nullable=True),
            Column("updated_at", UTCDateTime, nullable=False),
        )
        """How far the outbox is relayed to a broker's stream (`common.events.jetstream`), and
        which relay may publish until when: one at a time, so the stream is in position order."""

    def emit(self, session: Session, *events: Event) -> None:
        """Writes events in the caller's transaction: they exist exactly if the change does.

        The change is flushed first so that, of two transactions changing one object, the one
        that waited for the other's lock also writes its event after it (ids follow the order).
        """
        if not events:
            return
        session.flush()
        moment = utcnow()
        session.execute(insert(self.table), [_row(event, moment) for event in events])

    def sequence(self, engine: Engine) -> None:
        """Numbers the committed, not yet numbered events in id order, after the last position."""
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": SEQUENCER_LOCK}
                )
            connection.execute(
                text(
                    "UPDATE outbox_events SET position = "
                    "(SELECT COALESCE(MAX(position), 0) FROM outbox_events) + ranked.rn "
                    "FROM (SELECT id, row_number() OVER (ORDER BY id) AS rn FROM outbox_events "
                    "WHERE position IS NULL) AS ranked WHERE outbox_events.id = ranked.id"
                )
            )

    def read(
        self,
        connection: Connection,
        after: int,
        limit: int,
        through: int | None = None,
        types: Collection[str] | None = None,
    ) -> list[dict[str, Any]]:
        """The numbered events after a position (up to `through`, of these types), in order."""
        table = self.table
        query = select(table).where(table.c.position > after)
        if through is not None:
            query = query.where(table.c.position <= through)
        if types is not None:
            query = query.where(table.c.type.in_(sorted(types)))
        rows = connection.execute(query.order_by(table.c.position).limit(limit))
        return [_published(row._mapping) for row in rows]

    def data_of(self, connection: Connection, event_ids: Collection[str]) -> dict[str, Any]:
        """The data of these events as the outbox keeps it now (emptied where a member's
        erasure reached them), by id; ids it no longer keeps are not in the answer."""
        table = self.table
        rows = connection.execute(
            select(table.c.event_id, table.c.data).where(table.c.event_id.in_(sorted(event_ids)))
        )
        return {str(event_id): data for event_id, data in rows}

    def last_position(self, connection: Connection) -> int:
        found = connection.execute(text("SELECT MAX(position) FROM outbox_events")).scalar()
        return int(found or 0)

    def first_position(self, connection: Connection) -> int:
        """The oldest position still kept (0 when the feed is empty)."""
        found = connection.execute(text("SELECT MIN(position) FROM outbox_events")).scalar()
        return int(found or 0)

    def prune(self, engine: Engine, before: datetime) -> int:
        """Drops the numbered events that occurred before `before`; answers how many. The last
        numbered one stays, whatever its age: the next positions follow it."""
        table = self.table
        newest = select(func.max(table.c.position)).scalar_subquery()
        with engine.begin() as connection:
            result = connection.execute(
                delete(table).where(table.c.position < newest, table.c.occurred_at < before)
            )
        return int(result.rowcount)


def _row(event: Event, moment: datetime) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "type": event.type.value,
        "subject": event.subject,
        "scope": event.scope.as_dict(),
        "data": event.data,
        "occurred_at": moment,
        # The request that caused it, for following it from the log line into every service
        # that applies it (none for what a background loop does on its own).
        "request_id": current_request_id(),
    }


def _published(row: Any) -> dict[str, Any]:
    return {
        "id": row["event_id"],
        "position": row["position"],
        "type": row["type"],
        "subject": row["subject"],
        "occurred_at": row["occurred_at"].isoformat(),
        "scope": row["scope"],
        "data": row["data"],
        "request_id": row["request_id"],
    }
