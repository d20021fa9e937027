"""Events on a broker: each service's outbox relayed to NATS JetStream, and read from there.

The HTTP feed (`common.events.feed`) is the embedded default. With
`ISHC_EVENT_TRANSPORT=jetstream` (and `ISHC_NATS_URL`) each service relays its outbox to a
stream of its own, `ISHC_<SERVICE>`, one message per event on `ishc.<service>.<event type>`:
the body is the event as the feed gives it, `Nats-Msg-Id` is its id (the stream drops a second
publication of an id within `DUPLICATE_WINDOW_SECONDS`), `Ishc-Position` its position and
`Ishc-Previous-Position` the position published just before it. What a member's erasure would
empty in the outbox (`common.events.catalogue.ERASABLE`: the blind index under `personal`,
names, reasons, references) is emptied in the message too (`Ishc-Redacted: 1`), and its readers
ask the source's `POST /internal/events/data` for those events' data as kept now: a stream
cannot be edited, so it never holds what an erasure must reach. The consumers then read the
streams (`JetStreamFeed`) and apply what they read with the same code as from the feed
(`EventConsumer`): only the reading of a page differs.

The relay (`Relay`) is a worker of the service, so it runs wherever the service's workers run,
in any number of copies: one at a time publishes, the one holding the lease on the stream's row
of `outbox_relays` (`RELAY_LEASE_SECONDS`, renewed with every batch), so the stream is in
position order. It publishes from the position stored there, waiting for each message's
acknowledgement, and stores how far it got; a relay killed mid-batch leaves the position where
it was, and the next holder publishes those events again, which the stream drops by their ids.
"""

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator, Collection
from datetime import timedelta
from typing import Any

import nats
import orjson
from fastapi import FastAPI
from nats.aio.client import Client as NatsClient
from nats.aio.msg import Msg
from nats.js import JetStreamContext, api
from nats.js.errors import APIError, NotFoundError
from nats.js.errors import ServiceUnavailableError as JetStreamUnavailable
from sqlalchemy import Engine, or_, select, update
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from common.app import Worker
from common.clock import utcnow
from common.db import conflict_insert
from common.events.catalogue import blanked
from common.events.consumer import Feed, FeedEvent, FeedPage, HttpFeed
from common.events.outbox import Outbox
from common.problem_codes import Code
from common.problems import ServiceUnavailable
from common.service_client import ServiceClient
from common.settings import ComponentSettings, ServiceSettings

MSG_ID = "Nats-Msg-Id"
POSITION = "Ishc-Position"
PREVIOUS = "Ishc-Previous-Position"
REDACTED = "Ishc-Redacted"
DUPLICATE_WINDOW_SECONDS = 15 * 60.0
"""Far longer than a relay's lease: what a relay that took over publishes again is dropped."""
RELAY_LEASE_SECONDS = 20.0
RELAY_BATCH = 500
MAX_PAUSE_SECONDS = 30.0
ACK_WAIT_SECONDS = 10.0
"""A message delivered and not acknowledged within this is delivered again (to any copy)."""
MAX_ACK_PENDING = 5_000
FETCH_SECONDS = 0.25
CONNECT_SECONDS = 2.0
log = logging.getLogger("ishc.events")


def stream_name(service: str) -> str:
    return f"ISHC_{service.upper()}"


def subject(service: str, event_type: str) -> str:
    return f"ishc.{service}.{event_type}"


def _header(headers: dict[str, str] | None, name: str) -> int:
    return int((headers or {})[name])


def _unreachable(exc: Exception) -> bool:
    """Whether a failure is of reaching the NATS server (not of what was asked of it)."""
    if isinstance(exc, APIError):
        return isinstance(exc, JetStreamUnavailable)
    return isinstance(exc, OSError | nats.errors.Error)


@contextlib.asynccontextmanager
async def reaching(url: str) -> AsyncIterator[None]:
    """Turns a lost or refused connection into `ServiceUnavailable`: the workers log it
    briefly and try again later, as when another service does not answer."""
    try:
        yield
    except Exception as exc:
        if not _unreachable(exc):
            raise
        raise ServiceUnavailable(
            f"The NATS server at {url} did not answer ({type(exc).__name__}).",
            code=Code.SERVICE_UNAVAILABLE,
        ) from exc


class Broker:
    """A connection to the NATS server, made when first needed and again once lost. nats-py
    does not keep retrying by itself here: the workers' growing pauses space the tries."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.connection: NatsClient | None = None

    async def jetstream(self) -> JetStreamContext:
        if self.connection is None or self.connection.is_closed:
            self.connection = await nats.connect(
                self.url,
                connect_timeout=CONNECT_SECONDS,
                max_reconnect_attempts=1,
                reconnect_time_wait=0.5,
                error_cb=self._quiet,
            )
        return self.connection.jetstream()

    async def _quiet(self, exc: Exception) -> None:
        log.debug("NATS at %s: %s", self.url, exc)

    async def close(self) -> None:
        if self.connection is not None and not self.connection.is_closed:
            await self.connection.close()


async def sequence_after(js: JetStreamContext, stream: str, after: int) -> int:
    """The stream sequence of the first message after position `after` (positions grow with
    sequences: the relay publishes in position order); one past the last if there is none."""
    try:
        state = (await js.stream_info(stream)).state
    except NotFoundError as exc:
        raise ServiceUnavailable(
            f"The stream {stream} does not exist yet: its service has relayed nothing.",
            code=Code.SERVICE_UNAVAILABLE,
        ) from exc
    low, high = max(state.first_seq, 1), state.last_seq + 1
    while low < high:
        middle = (low + high) // 2
        if _header((await js.get_msg(stream, middle)).headers, POSITION) > after:
            high = middle
        else:
            low = middle + 1
    return low


async def last_message(js: JetStreamContext, stream: str) -> api.RawStreamMsg | None:
    state = (await js.stream_info(stream)).state
    return None if state.messages == 0 else await js.get_msg(stream, state.last_seq)


async def last_position(js: JetStreamContext, stream: str) -> int:
    """The position of the stream's last message (0 when it has none)."""
    found = await last_message(js, stream)
    return 0 if found is None else _header(found.headers, POSITION)


class Relay:
    """Publishes a service's numbered events to its stream, in position order."""

    def __init__(
        self, service: str, outbox: Outbox, broker: Broker, settings: ServiceSettings
    ) -> None:
        self.service = service
        self.stream = stream_name(service)
        self.outbox = outbox
        self.broker = broker
        self.poll_seconds = settings.event_poll_seconds
        self.idle_poll_seconds = max(settings.event_idle_poll_seconds, self.poll_seconds)
        self.max_age_seconds = settings.event_retention_days * 86_400.0
        self.holder = uuid.uuid4().hex
        self._holding = False
        """The last round held the lease and finished: the stream ends as this relay left it."""

    async def run(self, app: FastAPI) -> None:
        """The worker loop: relays while there is something to relay, then asks less often; a
        relay that stops hands its lease back, so another copy takes over at once."""
        pause = self.poll_seconds
        try:
            while True:
                try:
                    published = await self.relay_once(app.state.engine)
                    pause = (
                        self.poll_seconds if published else min(pause * 2, self.idle_poll_seconds)
                    )
                except ServiceUnavailable as exc:
                    log.info("events of %s not relayed: %s", self.service, exc.detail)
                    pause = min(pause * 2, MAX_PAUSE_SECONDS)
                except Exception:
                    log.exception("events of %s not relayed; trying again", self.service)
                    pause = min(pause * 2, MAX_PAUSE_SECONDS)
                await asyncio.sleep(pause)
        finally:
            with contextlib.suppress(SQLAlchemyError):
                await run_in_threadpool(self._release, app.state.engine)
            await self.broker.close()

    async def relay_once(self, engine: Engine) -> int:
        """Publishes the next batch if this relay holds the lease; answers how many events.
        A round that took the lease over, or followed a failed one, first looks at the stream:
        the last holder may have published further than it stored."""
        stored = await run_in_threadpool(self._lease, engine)
        looked, self._holding = self._holding, False
        if stored is None:
            return 0
        after = stored
        async with reaching(self.broker.url):
            js = await self.broker.jetstream()
            if not looked:
                await self._prepare_stream(js)
                after = max(after, await self._published_through(js, engine))
            events = await run_in_threadpool(self._unpublished, engine, after)
            through = await self._publish(js, events, after)
        self._holding = through == stored or await run_in_threadpool(self._store, engine, through)
        return len([event for event in events if event["position"] <= through])

    def _lease(self, engine: Engine) -> int | None:
        """Takes or renews the lease; answers the position stored, or None if another relay
        holds the lease."""
        table, now = self.outbox.relays, utcnow()
        mine = table.c.stream == self.stream
        with engine.begin() as connection:
            connection.execute(
                conflict_insert(connection, table)
                .values(stream=self.stream, position=0, updated_at=now)
                .on_conflict_do_nothing(index_elements=["stream"])
            )
            taken = connection.execute(
                update(table)
                .where(
                    mine,
                    or_(
                        table.c.holder == self.holder,
                        table.c.leased_until.is_(None),
                        table.c.leased_until < now,
                    ),
                )
                .values(
                    holder=self.holder,
                    leased_until=now + timedelta(seconds=RELAY_LEASE_SECONDS),
                    updated_at=now,
                )
            )
            if not taken.rowcount:
                return None
            return int(connection.execute(select(table.c.position).where(mine)).scalar_one())

    def _store(self, engine: Engine, through: int) -> bool:
        """Stores how far this relay published, if it still holds the lease (never back)."""
        table, now = self.outbox.relays, utcnow()
        with engine.begin() as connection:
            moved = connection.execute(
                update(table)
                .where(
                    table.c.stream == self.stream,
                    table.c.holder == self.holder,
                    table.c.position <= through,
                )
                .values(
                    position=through,
                    leased_until=now + timedelta(seconds=RELAY_LEASE_SECONDS),
                    updated_at=now,
                )
            )
        return bool(moved.rowcount)

    def _release(self, engine: Engine) -> None:
        table = self.outbox.relays
        with engine.begin() as connection:
            connection.execute(
                update(table)
                .where(table.c.stream == self.stream, table.c.holder == self.holder)
                .values(holder=None, leased_until=None)
            )

    def _unpublished(self, engine: Engine, after: int) -> list[dict[str, Any]]:
        self.outbox.sequence(engine)
        with engine.connect() as connection:
            return self.outbox.read(connection, after, RELAY_BATCH)

    async def _prepare_stream(self, js: JetStreamContext) -> None:
        config = api.StreamConfig(
            name=self.stream,
            subjects=[subject(self.service, ">")],
            storage=api.StorageType.FILE,
            duplicate_window=DUPLICATE_WINDOW_SECONDS,
            max_age=self.max_age_seconds,  # 0: kept for ever, like the outbox
        )
        try:
            await js.stream_info(self.stream)
        except NotFoundError:
            await js.add_stream(config)
            return
        await js.update_stream(config)

    async def _published_through(self, js: JetStreamContext, engine: Engine) -> int:
        """The position of the stream's last message, once it is known to be this outbox's
        (a stream left from another database would have the relay skip events)."""
        found = await last_message(js, self.stream)
        if found is None:
            return 0
        position, theirs = _header(found.headers, POSITION), (found.headers or {}).get(MSG_ID)
        ours = await run_in_threadpool(self._event_at, engine, position)
        if ours is not None and ours != theirs:
            raise RuntimeError(
                f"The stream {self.stream} holds another database's events (position {position} "
                f"is {theirs} there, {ours} here): delete the stream, or point the service at "
                "its own NATS server."
            )
        return position

    def _event_at(self, engine: Engine, position: int) -> str | None:
        """The id of the event at `position`: '' when this outbox has not reached that
        position (so the stream is another's), None when it no longer keeps it (retention)."""
        table = self.outbox.table
        with engine.connect() as connection:
            found = connection.execute(
                select(table.c.event_id).where(table.c.position == position)
            ).scalar()
            if found is None and position > self.outbox.last_position(connection):
                return ""
        return None if found is None else str(found)

    async def _publish(self, js: JetStreamContext, events: list[dict[str, Any]], after: int) -> int:
        """Publishes events in order, each once acknowledged, while the lease surely lasts;
        answers the position published through."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + RELAY_LEASE_SECONDS / 2
        previous = after
        for event in events:
            if loop.time() > deadline:
                break
            headers = {
                MSG_ID: event["id"],
                POSITION: str(event["position"]),
                PREVIOUS: str(previous),
            }
            kept = blanked(event["data"])
            if kept != event["data"]:
                headers[REDACTED] = "1"
            await js.publish(
                subject(self.service, event["type"]),
                orjson.dumps({**event, "data": kept}),
                stream=self.stream,
                headers=headers,
            )
            previous = event["position"]
        return previous


class JetStreamFeed:
    """A source's stream, read by one component through its durable consumer of it.

    Every copy of the component's worker reads the same durable consumer (`loans` on
    `ISHC_CLUBS`, `gateway` on each service's stream), with explicit acknowledgements: a message
    is acknowledged once the component's cursor (in its own database) is past it, so the
    messages a worker held when it died are delivered again, to whichever copy asks, after
    `ACK_WAIT_SECONDS`. Two copies reading one durable consumer are given different messages,
    so what a copy holds is not a page as it comes: its page is the run of messages that
    follows the stored cursor without a hole (each message names the position published before
    it), applied with the cursor's conditional claim as a page of the HTTP feed is. A copy whose
    messages do not follow the cursor hands them back (`nak`) for the next copy that asks, and
    the one holding the earlier messages goes on. So a source's events are applied in position
    order and once, and the cursor only moves forward.

    Chosen over one reader at a time under a lease, which needs a lease table in every
    consumer's database and still needs the same check (a dead holder's messages come back
    after newer ones); and over each copy reading by start sequence from its cursor, which
    gives up the durable consumer, its acknowledgements and its redelivery.
    """

    def __init__(self, source: str, durable: str, broker: Broker, numbered: HttpFeed) -> None:
        self.source = source
        self.durable = durable
        self.stream = stream_name(source)
        self.broker = broker
        self.numbered = numbered
        """The source's own feed, asked only how far it has numbered its events."""
        self._subscription: JetStreamContext.PullSubscription | None = None
        self._connection: NatsClient | None = None
        self._held: dict[int, Msg] = {}
        """Messages delivered to this copy and not acknowledged yet, by position."""
        self._last_seen = 0

    async def next_page(self, after: int, types: Collection[str] | None, limit: int) -> FeedPage:
        async with reaching(self.broker.url):
            chain = await self._following(after, limit)
        if not chain:  # asked again after the consumer's pause
            return FeedPage([], after, after)
        events, through = await self._page(chain, after, types, limit)
        return FeedPage(events, through, max(through, self._last_seen))

    async def page_after(self, after: int, types: Collection[str] | None, limit: int) -> FeedPage:
        """Reads through a consumer of its own that lives for this page only (the durable
        one's messages are the live consumer's). The last position is the source's own, not
        the stream's: a backfill must not end before the stream holds every event the source
        had numbered when it asked, though the relay may not have published them yet."""
        numbered = await self.numbered.last_position()
        async with reaching(self.broker.url):
            js = await self.broker.jetstream()
            start = await sequence_after(js, self.stream, after)
            last = await last_position(js, self.stream)
            messages = await self._read_from(js, start, limit) if start <= last else []
        if not messages:  # nothing after `after`, or nothing delivered in time: ask again
            through = max(after, last) if start > last else after
            if through < numbered:  # the relay has yet to publish them: within its poll
                await asyncio.sleep(FETCH_SECONDS)
            return FeedPage([], through, max(through, numbered))
        events, through = await self._page(messages, after, types, limit)
        return FeedPage(events, through, max(through, numbered))

    async def close(self) -> None:
        await self.broker.close()

    async def _following(self, after: int, limit: int) -> list[Msg]:
        """The held messages that follow the cursor `after`, fetched first if this copy holds
        less than a page of them; none if the next ones are out with another copy."""
        subscription = await self._subscribe(after)
        await self._settle(after)
        chain = self._chain(after)
        if len(chain) < limit:
            await self._fetch(subscription, limit)
            await self._settle(after)
            chain = self._chain(after)
        if chain or not self._held:
            return chain
        if await self._others_hold(subscription):
            await self._give_back()
            return []
        chain = self._chain(after, bridge=True)
        log.warning(
            "events %d to %d of %s are not in its stream (dropped, or from before the stream); "
            "going on after them",
            after + 1,
            _header(chain[0].headers, POSITION) - 1,
            self.source,
        )
        return chain

    async def _read_from(self, js: JetStreamContext, start: int, limit: int) -> list[Msg]:
        """Up to `limit` messages from the stream sequence `start`, through a consumer made for
        them and deleted after (unacknowledged: nothing waits for this reader)."""
        name = f"{self.durable}-read-{uuid.uuid4().hex[:12]}"
        config = api.ConsumerConfig(
            name=name,
            ack_policy=api.AckPolicy.NONE,
            deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=start,
            filter_subject=subject(self.source, ">"),
            inactive_threshold=60.0,  # gone by itself should this reader die before deleting it
            mem_storage=True,
        )
        await js.add_consumer(self.stream, config)
        try:
            reading = await js.pull_subscribe_bind(consumer=name, stream=self.stream)
            messages = await self._messages(reading, limit)
            await reading.unsubscribe()
        finally:
            await js.delete_consumer(self.stream, name)
        return messages

    async def _subscribe(self, after: int) -> JetStreamContext.PullSubscription:
        """The subscription to the durable consumer, which is made, starting after the stored
        cursor, if it does not exist yet."""
        js = await self.broker.jetstream()
        if self._subscription is not None and self._connection is self.broker.connection:
            return self._subscription
        self._held.clear()  # a lost connection's messages can no longer be acknowledged
        try:
            await js.consumer_info(self.stream, self.durable)
        except NotFoundError:
            await self._create_durable(js, after)
        self._subscription = await js.pull_subscribe_bind(durable=self.durable, stream=self.stream)
        self._connection = self.broker.connection
        return self._subscription

    async def _create_durable(self, js: JetStreamContext, after: int) -> None:
        config = api.ConsumerConfig(
            durable_name=self.durable,
            ack_policy=api.AckPolicy.EXPLICIT,
            ack_wait=ACK_WAIT_SECONDS,
            max_deliver=-1,  # an event is never given up on: later ones wait for it
            max_ack_pending=MAX_ACK_PENDING,
            deliver_policy=api.DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=await sequence_after(js, self.stream, after),
            filter_subject=subject(self.source, ">"),
        )
        try:
            await js.add_consumer(self.stream, config)
        except APIError:
            # Another copy made it first, starting after the cursor it read (never later than
            # this one's: the cursor only moves forward); anything else raises here again.
            await js.consumer_info(self.stream, self.durable)

    async def _settle(self, after: int) -> None:
        """Acknowledges the messages the cursor is past: applied, by this copy or another."""
        for position in sorted(p for p in self._held if p <= after):
            await self._held.pop(position).ack()

    async def _give_back(self) -> None:
        """Hands the held messages back for delivery again, to whichever copy asks next: this
        copy cannot apply them before the earlier ones, which another copy holds (or a dead
        one held, until `ACK_WAIT_SECONDS` has them delivered again)."""
        for position in sorted(self._held):
            await self._held.pop(position).nak()

    async def _fetch(self, subscription: JetStreamContext.PullSubscription, limit: int) -> None:
        for message in await self._messages(subscription, limit):
            position = _header(message.headers, POSITION)
            self._held[position] = message  # a redelivery replaces what this copy held
            self._last_seen = max(self._last_seen, position + message.metadata.num_pending)

    @staticmethod
    async def _messages(subscription: JetStreamContext.PullSubscription, limit: int) -> list[Msg]:
        try:
            return await subscription.fetch(limit, timeout=FETCH_SECONDS)
        except TimeoutError:  # nothing to deliver (nats-py raises its own or asyncio's)
            return []

    def _chain(self, after: int, bridge: bool = False) -> list[Msg]:
        """The held messages that follow position `after` without a hole; with `bridge`, from
        the first held message on, whatever is missing before it."""
        chain: list[Msg] = []
        expected = after
        for position in sorted(p for p in self._held if p > after):
            message = self._held[position]
            if _header(message.headers, PREVIOUS) > expected and not (bridge and not chain):
                break
            chain.append(message)
            expected = position
        return chain

    async def _others_hold(self, subscription: JetStreamContext.PullSubscription) -> bool:
        """Whether messages of the durable consumer are out with another copy, or waiting to
        be delivered again: the hole before this copy's messages will be filled."""
        info = await subscription.consumer_info()
        return (info.num_ack_pending or 0) > len(self._held)

    async def _page(
        self, messages: list[Msg], after: int, types: Collection[str] | None, limit: int
    ) -> tuple[list[FeedEvent], int]:
        """At most `limit` events of `types` from these messages, with their data as the
        source keeps it where the message's was redacted, and the position of the last message
        examined."""
        events: list[dict[str, Any]] = []
        redacted: set[str] = set()
        through = after
        for message in messages:
            event = orjson.loads(message.data)
            through = event["position"]
            if types is None or event["type"] in types:
                events.append(event)
                if (message.headers or {}).get(REDACTED):
                    redacted.add(event["id"])
                if len(events) == limit:
                    break
        if redacted:
            # An event the source no longer keeps (its retention) stays as the stream has it.
            kept = await self.numbered.data_of(redacted)
            events = [{**e, "data": kept.get(e["id"], e["data"])} for e in events]
        return [FeedEvent.of(event) for event in events], through


def source_feed(
    settings: ComponentSettings, source: str, client: ServiceClient, reader: str
) -> Feed:
    """Where the component `reader` reads the events of `source`: its HTTP feed, or its
    stream when `ISHC_EVENT_TRANSPORT` is `jetstream`."""
    feed = HttpFeed(source, client)
    if settings.event_transport == "jetstream":
        return JetStreamFeed(source, reader, Broker(settings.nats_url), numbered=feed)
    return feed


def outbox_relays(settings: ServiceSettings, service: str, outbox: Outbox) -> list[Worker]:
    """The worker relaying the service's outbox to its stream, when events go by JetStream."""
    if settings.event_transport != "jetstream":
        return []
    return [Relay(service, outbox, Broker(settings.nats_url), settings).run]
