"""Following another service's event feed: from a stored cursor, once per event, in order."""

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Protocol

import orjson
from fastapi import FastAPI
from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Engine,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    UniqueConstraint,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.exc import InterfaceError, OperationalError, StatementError
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from common.clock import utcnow
from common.db import UTCDateTime, conflict_insert
from common.events.catalogue import blanked
from common.observability.metrics import watch_feed
from common.problem_codes import Code
from common.problems import ServiceUnavailable
from common.service_client import ServiceClient

FEED_PATH = "/internal/events"
DATA_PATH = "/internal/events/data"
LATEST = 10**15
"""A position after any event (a feed's page after it holds none, only the last position)."""
UNREACHABLE = (OperationalError, InterfaceError, ServiceUnavailable, OSError, TimeoutError)
"""Failures of reaching something (the database, another service, the network), not of the
event: an outage must never put events aside (common/events/dead_letters.py)."""
log = logging.getLogger("ishc.events")


@dataclass(frozen=True)
class FeedEvent:
    id: str
    position: int
    type: str
    subject: str
    occurred_at: str
    scope: dict[str, Any]
    data: dict[str, Any]
    request_id: str | None = None
    """The request that caused the event (`X-Request-ID`), if a request did."""

    @classmethod
    def of(cls, item: dict[str, Any]) -> "FeedEvent":
        fields: dict[str, Any] = {name: item.get(name) for name in cls.__dataclass_fields__}
        return cls(**fields)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class FeedPage:
    """What a read of a source's events gave: the events (of the types asked for), the
    position read through (the types skipped included) and the source's last position."""

    events: list[FeedEvent]
    through: int
    last: int


class Feed(Protocol):
    """Where a consumer reads a source's events: its HTTP feed (`HttpFeed`, the embedded
    default) or its stream on NATS JetStream (`common.events.jetstream.JetStreamFeed`). Either
    way the consumer applies what it reads in the same way (`EventConsumer._apply`)."""

    async def next_page(self, after: int, types: Collection[str] | None, limit: int) -> FeedPage:
        """The next page of the consumer whose stored cursor is `after`: at most `limit` events
        of `types` (all if None), oldest first."""
        ...

    async def page_after(self, after: int, types: Collection[str] | None, limit: int) -> FeedPage:
        """A page after any position, for a reader with no cursor of its own (a backfill)."""
        ...


class HttpFeed:
    """A service's `GET /internal/events`, asked with a service token."""

    def __init__(self, source: str, client: ServiceClient) -> None:
        self.source = source
        self.client = client

    async def next_page(self, after: int, types: Collection[str] | None, limit: int) -> FeedPage:
        return await self.page_after(after, types, limit)

    async def page_after(self, after: int, types: Collection[str] | None, limit: int) -> FeedPage:
        params: dict[str, Any] = {"after": after, "limit": limit}
        if types is not None:
            params["types"] = ",".join(sorted(types))
        response = await self.client.request("GET", FEED_PATH, params=params)
        if response.status_code != 200:
            raise ServiceUnavailable(
                f"The {self.source} service answered {response.status_code} to its event feed.",
                code=Code.SERVICE_ERROR,
            )
        body = orjson.loads(response.content)
        if body["first_position"] > after + 1:
            log.warning(
                "events %d to %d of %s were dropped (retention) before this reader read them",
                after + 1,
                body["first_position"] - 1,
                self.source,
            )
        events = [FeedEvent.of(item) for item in body["events"]]
        return FeedPage(events, body["through"], body["last_position"])

    async def last_position(self) -> int:
        """The last position the service has numbered (a page asked after every event)."""
        return (await self.page_after(LATEST, None, 1)).last

    async def data_of(self, event_ids: Collection[str]) -> dict[str, Any]:
        """The data of these events as the service keeps it now, by id (`DATA_PATH`)."""
        response = await self.client.request("POST", DATA_PATH, json={"ids": sorted(event_ids)})
        if response.status_code != 200:
            raise ServiceUnavailable(
                f"The {self.source} service answered {response.status_code} to the data of "
                "its events.",
                code=Code.SERVICE_ERROR,
            )
        found: dict[str, Any] = orjson.loads(response.content)["data"]
        return found


Handler = Callable[[Session, FeedEvent], None]
"""Applies one event inside the consumer's transaction (raise to have the page retried)."""
PageHandler = Callable[[Session, list[FeedEvent]], list[FeedEvent]]
"""Applies a page's new events at once (for a consumer that would repeat work per event) and
answers those it did something with: only they are remembered as consumed."""


def counts(exc: BaseException) -> bool:
    """Whether a failure to apply an event counts towards putting it aside."""
    return not isinstance(exc, UNREACHABLE)


def describe(exc: BaseException) -> str:
    """What failed, without the values involved: a database error's first line (never the
    statement and its parameters, which may hold a person's data)."""
    cause: BaseException = exc.orig if isinstance(exc, StatementError) and exc.orig else exc
    first_line = (str(cause).strip().splitlines() or [""])[0]
    return f"{type(cause).__name__}: {first_line}"[:500]


@dataclass
class Trouble:
    """A page that keeps failing after the cursor's position `after`: how often it failed,
    and, once it failed `max_attempts` times, `until`: the end of that page, up to which the
    consumer reads one event at a time to find the one that fails."""

    after: int
    attempts: int = 0
    until: int | None = None

    def isolating(self, after: int) -> bool:
        return self.until is not None and after < self.until


class ConsumerTables:
    """Where a consumer keeps how far it has read each source and which events it applied."""

    def __init__(self, metadata: MetaData) -> None:
        self.cursors = Table(
            "event_cursors",
            metadata,
            Column("source", String(40), primary_key=True),
            Column("position", BigInteger, nullable=False),
            Column("updated_at", UTCDateTime, nullable=False),
        )
        self.consumed = Table(
            "consumed_events",
            metadata,
            Column("source", String(40), nullable=False),
            Column("event_id", String(36), nullable=False),
            Column("consumed_at", UTCDateTime, nullable=False),
            PrimaryKeyConstraint("source", "event_id"),
        )
        self.dead_letters = Table(
            "dead_letters",
            metadata,
            Column("id", Integer, primary_key=True, autoincrement=True),
            Column("source", String(40), nullable=False),
            Column("event_id", String(36), nullable=False),
            Column("position", BigInteger, nullable=False),
            Column("type", String(40), nullable=False),
            Column("subject", String(80), nullable=False),
            Column("event", JSON, nullable=False),
            Column("error", String(500), nullable=False),
            Column("attempts", Integer, nullable=False),
            Column("failed_at", UTCDateTime, nullable=False),
            Column("replayed_at", UTCDateTime, nullable=True),
            Column("replayed_by", String(120), nullable=True),
            UniqueConstraint("source", "event_id"),
        )

    def cursor(self, session: Session, source: str) -> int:
        found = session.execute(
            select(self.cursors.c.position).where(self.cursors.c.source == source)
        ).scalar()
        return int(found or 0)

    def claim(self, session: Session, source: str, after: int, through: int) -> bool:
        """Moves the cursor from `after` to `through` if nobody has moved it since it was
        read. Of two copies of a consumer that read the same page, the first applies it and the
        other applies nothing: on PostgreSQL it waits on the cursor's row until the first
        commits, then finds it moved (SQLite writes one at a time). So a page is applied once
        by any number of workers, and a cursor only moves forward."""
        cursors = self.cursors
        now = utcnow()
        if after == 0:  # the first page ever: the row two copies would both insert
            session.execute(
                conflict_insert(session, cursors)
                .values(source=source, position=0, updated_at=now)
                .on_conflict_do_nothing(index_elements=["source"])
            )
        moved = session.execute(
            update(cursors)
            .where(cursors.c.source == source, cursors.c.position == after)
            .values(position=through, updated_at=now)
        )
        return bool(moved.rowcount)  # type: ignore[attr-defined]

    def seen(self, session: Session, source: str, event_ids: list[str]) -> set[str]:
        table = self.consumed
        rows = session.execute(
            select(table.c.event_id).where(
                table.c.source == source, table.c.event_id.in_(event_ids)
            )
        )
        return set(rows.scalars())

    def mark(self, session: Session, source: str, event_ids: list[str]) -> None:
        if event_ids:
            moment = utcnow()
            session.execute(
                insert(self.consumed),
                [{"source": source, "event_id": i, "consumed_at": moment} for i in event_ids],
            )

    def forget_personal(self, session: Session, subject: str) -> None:
        """Empties what identifies a person in the events put aside about `subject` (their
        erasure), as the source's outbox does: `personal`, names, reasons, references."""
        table = self.dead_letters
        kept = session.execute(
            select(table.c.id, table.c.event).where(table.c.subject == subject)
        ).all()
        for letter_id, event in kept:
            data = blanked(event["data"])
            session.execute(
                update(table).where(table.c.id == letter_id).values(event={**event, "data": data})
            )

    def set_aside(
        self,
        engine: Engine,
        source: str,
        event: FeedEvent,
        span: tuple[int, int],
        error: str,
        attempts: int,
    ) -> None:
        """Stores `event` (read after `span[0]`, through `span[1]`) as a dead letter with how
        it failed and how often, and moves the cursor past it, in one transaction; nothing if
        another copy of the consumer moved the cursor first."""
        after, through = span
        with Session(engine) as session, session.begin():
            if not self.claim(session, source, after, through):
                return
            session.execute(
                conflict_insert(session, self.dead_letters)
                .values(
                    source=source,
                    event_id=event.id,
                    position=event.position,
                    type=event.type,
                    subject=event.subject,
                    event=event.as_dict(),
                    error=error,
                    attempts=attempts,
                    failed_at=utcnow(),
                )
                .on_conflict_do_nothing(index_elements=["source", "event_id"])
            )
            self.mark(session, source, [event.id])
        log.warning(
            "event %s (%s, %s) of %s put aside after %d attempts: %s",
            event.id, event.type, event.subject, source, attempts, error,
        )  # fmt: skip

    def prune(self, engine: Engine, before: datetime) -> int:
        """Forgets which events were consumed before `before` (a feed repeats itself, if ever,
        within moments, not weeks)."""
        with engine.begin() as connection:
            result = connection.execute(
                delete(self.consumed).where(self.consumed.c.consumed_at < before)
            )
        return int(result.rowcount)


class EventConsumer:
    """Reads one source's feed and applies the events it has handlers for.

    A page is applied in one transaction together with the cursor, so a consumer that stops
    (or crashes) resumes exactly after the last page it stored. An event id already consumed is
    skipped, so a feed that repeats itself does no harm. A handler that fails stops the
    consumer at that page (events of an object must not overtake each other) and the page is
    tried again with a growing pause. It asks the feed only for the types it handles (or those
    `types` names now) and moves its cursor past the others unread.

    A feed with nothing for it is asked less and less often, up to every `idle_poll_seconds`
    (asking every half second cost the platform a tenth of two cores while it did nothing);
    `wake()` asks at once, and the next event read brings back `poll_seconds`.
    """

    def __init__(
        self,
        source: str,
        feed: Feed,
        tables: ConsumerTables,
        handlers: Mapping[str, Handler],
        *,
        page_handler: PageHandler | None = None,
        types: Callable[[Engine], Collection[str] | None] | None = None,
        page_size: int = 500,
        poll_seconds: float = 0.5,
        idle_poll_seconds: float | None = None,
        max_pause_seconds: float = 30.0,
        max_attempts: int = 5,
    ) -> None:
        self.source = source
        self.feed = feed
        self.tables = tables
        self.handlers = handlers
        self.page_handler = page_handler
        self.types = types
        self.page_size = page_size
        self.poll_seconds = poll_seconds
        self.idle_poll_seconds = max(idle_poll_seconds or poll_seconds, poll_seconds)
        self.max_pause_seconds = max_pause_seconds
        self.max_attempts = max_attempts
        """Tries of a failing page, then of its failing event, before it is put aside."""
        self._trouble: Trouble | None = None
        self._woken = asyncio.Event()
        self.feed_last_position: int | None = None
        """The feed's last position when it last answered (for the lag in `/metrics`)."""
        self.last_read_at: float | None = None

    def wake(self) -> None:
        """Ask the feed now: the source has just changed something (the gateway calls this
        after forwarding a change to it)."""
        self._woken.set()

    async def run(self, app: FastAPI) -> None:
        """The worker loop: catch up, wait, again; pauses longer after each failure and while
        the feed has nothing for it."""
        watch_feed(app, self)
        pause = self.poll_seconds
        while True:
            try:
                read = await self.catch_up(app.state.engine)
                pause = self.poll_seconds if read else min(pause * 2, self.idle_poll_seconds)
            except ServiceUnavailable as exc:
                log.info("events from %s not read: %s", self.source, exc.detail)
                pause = min(pause * 2, self.max_pause_seconds)
            except Exception:
                log.exception("events from %s not applied; trying again", self.source)
                pause = min(pause * 2, self.max_pause_seconds)
            await self._pause(pause)

    async def _pause(self, seconds: float) -> None:
        """`seconds`, or until woken, but never less than `poll_seconds`: a burst of changes
        has the feed asked every `poll_seconds`, not once per change."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._woken.wait(), seconds)
        self._woken.clear()
        rest = self.poll_seconds - (loop.time() - started)
        if rest > 0:
            await asyncio.sleep(rest)

    async def catch_up(self, engine: Engine) -> int:
        """Applies pages until the feed has nothing more; returns how many events it read."""
        read = 0
        while True:
            after = await run_in_threadpool(self._cursor, engine)
            limit = 1 if self._trouble and self._trouble.isolating(after) else self.page_size
            page, through, last = await self.read(
                after, await run_in_threadpool(self._types, engine), limit
            )
            if through > after:
                try:
                    await run_in_threadpool(self._apply, engine, page, after, through)
                except Exception as exc:
                    span = (after, through)
                    if not await run_in_threadpool(self._gave_up, engine, page, span, exc):
                        raise
                else:
                    self._applied(through)
                read += len(page)
            if through >= last:
                return read

    def _cursor(self, engine: Engine) -> int:
        with Session(engine) as session:
            return self.tables.cursor(session, self.source)

    def _types(self, engine: Engine) -> Collection[str] | None:
        if self.types is not None:
            return self.types(engine)
        return None if self.page_handler is not None else self.handlers.keys()

    async def read(
        self, after: int, types: Collection[str] | None, limit: int | None = None
    ) -> tuple[list[FeedEvent], int, int]:
        """The next events after the cursor `after` (of `types`, if given; `limit` of them at
        most, the page size by default), the position read through and the feed's last
        position."""
        page = await self.feed.next_page(after, types, limit or self.page_size)
        self.feed_last_position, self.last_read_at = page.last, time.time()
        return page.events, page.through, page.last

    async def read_from(
        self, after: int, types: Collection[str] | None
    ) -> tuple[list[FeedEvent], int, int]:
        """As `read`, after any position rather than this consumer's cursor (a webhook
        backfill reads a service's older events so)."""
        page = await self.feed.page_after(after, types, self.page_size)
        return page.events, page.through, page.last

    def _apply(self, engine: Engine, page: list[FeedEvent], after: int, through: int) -> None:
        """Applies a page read after `after` and moves the cursor to `through` (past skipped
        types too), unless another copy of this consumer has applied it first."""
        with Session(engine) as session, session.begin():
            if not self.tables.claim(session, self.source, after, through):
                return
            seen = self.tables.seen(session, self.source, [event.id for event in page])
            handled = self.handle(session, [e for e in page if e.id not in seen])
            self.tables.mark(session, self.source, [event.id for event in handled])

    def handle(self, session: Session, events: list[FeedEvent]) -> list[FeedEvent]:
        """Applies events with the handlers (a dead letter's replay too); answers those it did
        something with."""
        if self.page_handler is not None:
            return self.page_handler(session, events)
        handled = [event for event in events if event.type in self.handlers]
        for event in handled:
            self.handlers[event.type](session, event)
        return handled

    def _applied(self, through: int) -> None:
        trouble = self._trouble
        if trouble is None or not trouble.isolating(through):
            self._trouble = None
        else:
            trouble.after, trouble.attempts = through, 0

    def _gave_up(
        self, engine: Engine, page: list[FeedEvent], span: tuple[int, int], exc: Exception
    ) -> bool:
        """Counts a failure of the page read after `after`; after `max_attempts`, reads its
        events one at a time from then on, and puts aside the one event that still fails.
        Answers whether it was put aside (the consumer goes on) or is to be tried again."""
        if not counts(exc):
            return False
        after, through = span
        trouble = self._trouble
        if trouble is None or trouble.after != after:
            until = trouble.until if trouble is not None and trouble.isolating(after) else None
            trouble = self._trouble = Trouble(after, until=until)
        trouble.attempts += 1
        if trouble.attempts < self.max_attempts:
            return False
        if len(page) > 1:
            trouble.until, trouble.attempts = through, 0
            return False
        self.tables.set_aside(engine, self.source, page[0], span, describe(exc), trouble.attempts)
        self._applied(through)
        return True
