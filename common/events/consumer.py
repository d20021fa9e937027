"""Following another service's event feed: from a stored cursor, once per event, in order."""

import asyncio
import contextlib
import logging
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from fastapi import FastAPI
from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    delete,
    insert,
    select,
    update,
)
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from common.clock import utcnow
from common.db import UTCDateTime
from common.problem_codes import Code
from common.problems import ServiceUnavailable
from common.service_client import ServiceClient

FEED_PATH = "/internal/events"
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

    @classmethod
    def of(cls, item: dict[str, Any]) -> "FeedEvent":
        return cls(**{name: item[name] for name in cls.__dataclass_fields__})


Handler = Callable[[Session, FeedEvent], None]
"""Applies one event inside the consumer's transaction (raise to have the page retried)."""
PageHandler = Callable[[Session, list[FeedEvent]], list[FeedEvent]]
"""Applies a page's new events at once (for a consumer that would repeat work per event) and
answers those it did something with: only they are remembered as consumed."""


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

    def cursor(self, session: Session, source: str) -> int:
        found = session.execute(
            select(self.cursors.c.position).where(self.cursors.c.source == source)
        ).scalar()
        return int(found or 0)

    def advance(self, session: Session, source: str, position: int) -> None:
        values = {"position": position, "updated_at": utcnow()}
        changed = session.execute(
            update(self.cursors).where(self.cursors.c.source == source).values(**values)
        )
        if changed.rowcount == 0:  # type: ignore[attr-defined]
            session.execute(insert(self.cursors).values(source=source, **values))

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
        client: ServiceClient,
        tables: ConsumerTables,
        handlers: Mapping[str, Handler],
        *,
        page_handler: PageHandler | None = None,
        types: Callable[[Engine], Collection[str] | None] | None = None,
        page_size: int = 500,
        poll_seconds: float = 0.5,
        idle_poll_seconds: float | None = None,
        max_pause_seconds: float = 30.0,
    ) -> None:
        self.source = source
        self.client = client
        self.tables = tables
        self.handlers = handlers
        self.page_handler = page_handler
        self.types = types
        self.page_size = page_size
        self.poll_seconds = poll_seconds
        self.idle_poll_seconds = max(idle_poll_seconds or poll_seconds, poll_seconds)
        self.max_pause_seconds = max_pause_seconds
        self._woken = asyncio.Event()

    def wake(self) -> None:
        """Ask the feed now: the source has just changed something (the gateway calls this
        after forwarding a change to it)."""
        self._woken.set()

    async def run(self, app: FastAPI) -> None:
        """The worker loop: catch up, wait, again; pauses longer after each failure and while
        the feed has nothing for it."""
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
            page, through, last = await self.read(
                after, await run_in_threadpool(self._types, engine)
            )
            if through > after:
                await run_in_threadpool(self._apply, engine, page, through)
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
        self, after: int, types: Collection[str] | None
    ) -> tuple[list[FeedEvent], int, int]:
        """The feed's events after `after` (of `types`, if given), the position read through and
        the feed's last position."""
        params: dict[str, Any] = {"after": after, "limit": self.page_size}
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
        return events, body["through"], body["last_position"]

    def _apply(self, engine: Engine, page: list[FeedEvent], through: int) -> None:
        """Applies a page and moves the cursor to `through` (past skipped types too)."""
        with Session(engine) as session, session.begin():
            seen = self.tables.seen(session, self.source, [event.id for event in page])
            wanted = self.handlers.keys() if self.page_handler is None else None
            handled = [e for e in page if (wanted is None or e.type in wanted) and e.id not in seen]
            if self.page_handler is not None:
                handled = self.page_handler(session, handled)
            else:
                for event in handled:
                    self.handlers[event.type](session, event)
            self.tables.mark(session, self.source, [event.id for event in handled])
            self.tables.advance(session, self.source, through)
