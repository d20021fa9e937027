"""Events through NATS JetStream (`ISHC_EVENT_TRANSPORT=jetstream`), on a server of the tests'
own: relayed from each outbox with their ids as message ids, applied by the loans service and
turned into webhooks by the gateway, each once and in order, with two relays and two consumers
at once and with a worker stopped mid-batch.

`nats-server` must be installed (Debian's package); without it these tests are skipped, except
in CI (`ISHC_REQUIRE_TOOLS`), where it must be there.
"""

import asyncio
import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import nats
import orjson
import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, Table, insert, select, update
from sqlmodel import Session

from common import clock
from common.db import make_engine, normalise_url
from common.events import jetstream
from common.events.catalogue import EventType
from common.events.consumer import ConsumerTables, EventConsumer, FeedEvent
from common.events.jetstream import Broker, JetStreamFeed, Relay, stream_name
from common.events.outbox import Event, Outbox
from common.settings import ServiceSettings
from tests.conftest import ADMIN_PASSWORD, BACKEND, _database_urls, _stack
from tests.factories import make_club
from tests.nats_server import nats_server
from tests.support import Api, postgres_databases, settle_events, wait_until
from tests.test_bank_loans import BANKS, add_member, post, record
from tests.test_events import funds_of
from tests.test_webhooks import subscribe_receiver
from tools.stack import FACTORIES, Stack, free_port

PAGE_BYTES = 3_000
"""The clubs feed's pages here: a few events each."""
SETTINGS = ServiceSettings(event_poll_seconds=0.05, event_idle_poll_seconds=0.2)
"""The in-process relays' pace (the platform's come from its environment)."""


@pytest.fixture(scope="module")
def nats_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with nats_server(tmp_path_factory.mktemp("nats")) as url:
        yield url


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory, nats_url: str) -> Iterator[Stack]:
    """A platform of its own whose events travel through the NATS server."""
    tmp = tmp_path_factory.mktemp("jetstream")
    settings = {
        "ISHC_EVENT_TRANSPORT": "jetstream",
        "ISHC_NATS_URL": nats_url,
        "CLUBS_EVENT_PAGE_MAX_BYTES": str(PAGE_BYTES),
    }
    for urls in _database_urls(tmp, "jetstream"):
        yield from _stack(tmp, urls, settings)


@pytest.fixture(scope="module")
def api(platform: Stack) -> Api:
    return Api(platform.gateway_url, ADMIN_PASSWORD)


@pytest.fixture(scope="module")
def admin(api: Api) -> httpx.Client:
    return api.client(api.admin_token)


def stream(url: str, service: str) -> list[dict[str, Any]]:
    """Every message of a service's stream, in stream order: its id, headers and event."""

    async def read() -> list[dict[str, Any]]:
        connection = await nats.connect(url)
        js = connection.jetstream()
        name = stream_name(service)
        state = (await js.stream_info(name)).state
        found = []
        for sequence in range(max(state.first_seq, 1), state.last_seq + 1):
            message = await js.get_msg(name, sequence)
            headers = message.headers or {}
            found.append(
                {
                    "subject": message.subject,
                    "size": len(message.data or b""),
                    "msg_id": headers[jetstream.MSG_ID],
                    "position": int(headers[jetstream.POSITION]),
                    "previous": int(headers[jetstream.PREVIOUS]),
                    "redacted": headers.get(jetstream.REDACTED) == "1",
                    "event": FeedEvent.of(orjson.loads(message.data or b"{}")),
                }
            )
        await connection.close()
        return found

    return asyncio.run(read())


def durable(url: str, service: str, name: str) -> Any:
    async def info() -> Any:
        connection = await nats.connect(url)
        try:
            return await connection.jetstream().consumer_info(stream_name(service), name)
        finally:
            await connection.close()

    return asyncio.run(info())


def assert_once_in_order(messages: list[dict[str, Any]]) -> None:
    """Each event once, positions one after the other, each naming the one before it."""
    positions = [m["position"] for m in messages]
    assert positions == list(range(positions[0], positions[0] + len(positions)))
    assert len({m["msg_id"] for m in messages}) == len(messages)
    assert all(m["msg_id"] == m["event"].id for m in messages)
    assert [m["previous"] for m in messages[1:]] == positions[:-1]


# The platform, its events through JetStream --------------------------------------------------


def test_events_reach_their_stream_with_their_ids_as_message_ids(
    platform: Stack, nats_url: str, admin: httpx.Client, api: Api
) -> None:
    club = make_club(admin)

    def relayed() -> list[dict[str, Any]]:
        return [
            m
            for m in stream(nats_url, "clubs")
            if m["event"].subject == f"club:{club['id']}" and m["event"].type == "club.created"
        ]

    (message,) = wait_until(relayed, "the club's event in the stream")
    assert message["subject"] == "ishc.clubs.club.created"
    assert message["event"].data["club_id"] == club["id"]
    messages = stream(nats_url, "clubs")
    assert_once_in_order(messages)
    # The same events, ids and positions as the service's own feed (read page by page: this
    # platform's pages hold PAGE_BYTES at most).
    feed: dict[int, str] = {}
    after = 0
    while after < messages[-1]["position"]:
        page = httpx.get(
            platform.url("clubs") + "/internal/events",
            params={"after": after, "limit": 1000},
            headers={"Authorization": f"Bearer {api.token_for('service')}"},
        ).json()
        feed.update({e["position"]: e["id"] for e in page["events"]})
        after = page["through"]
    assert [(feed[m["position"]], m["position"]) for m in messages] == [
        (m["msg_id"], m["position"]) for m in messages
    ]
    assert sorted(feed)[: len(messages)] == [m["position"] for m in messages]


def test_the_loans_service_applies_club_events_read_from_jetstream(
    platform: Stack, nats_url: str, admin: httpx.Client, api: Api
) -> None:
    club = make_club(admin)
    funds = wait_until(lambda: len(funds_of(admin, club["id"])) == 2, "the new club's funds")
    assert funds
    # A member who joins is matched to the bank's record that waited for their citizen ID.
    bank = api.client(api.client_token(*api.create_client("bank", bank_code="VBSP")))
    waiting = record()
    loan = post(bank, waiting).json()["bank_loan"]
    assert loan["member_id"] is None
    member = add_member(admin, club["id"], waiting["borrower_national_id"])
    matched = wait_until(
        lambda: admin.get(f"{BANKS}/{loan['id']}").json()["member_id"] == member["id"],
        "the match made by the member.joined event",
    )
    assert matched
    # Read through the loans service's durable consumer, and acknowledged there.
    settle_events({c: platform.url(c) for c in FACTORIES}, api.token_for("service"))
    joined = max(
        m["position"] for m in stream(nats_url, "clubs") if m["event"].type == "member.joined"
    )
    consumer = wait_until(
        lambda: (found := durable(nats_url, "clubs", "loans")).ack_floor.stream_seq > 0 and found,
        "the loans service's acknowledgements",
    )
    assert consumer.config.ack_policy == "explicit"
    assert consumer.delivered.stream_seq >= joined
    # The match needed the citizen ID's blind index, which the stream never held (a stream
    # cannot be edited, and an erasure must reach it): the loans service asked the clubs
    # service for it.
    (message,) = [
        m
        for m in stream(nats_url, "clubs")
        if m["event"].type == "member.joined" and m["event"].subject == f"member:{member['id']}"
    ]
    assert message["redacted"]
    assert message["event"].data["personal"] == {"national_id_blind_index": None}
    kept = httpx.post(
        platform.url("clubs") + "/internal/events/data",
        json={"ids": [message["msg_id"], "no-such-event"]},
        headers={"Authorization": f"Bearer {api.token_for('service')}"},
    )
    assert kept.status_code == 200, kept.text
    (data,) = kept.json()["data"].values()
    assert data["personal"]["national_id_blind_index"]
    assert not [
        m["msg_id"]
        for m in stream(nats_url, "clubs")
        if (m["event"].data.get("personal") or {}).get("national_id_blind_index")
    ]


def test_the_gateway_posts_webhooks_of_events_read_from_jetstream(
    platform: Stack, nats_url: str, admin: httpx.Client
) -> None:
    subscription, inbox = subscribe_receiver(admin, "club.created")
    try:
        club = make_club(admin)
        (event,) = inbox.wait_for(f"club:{club['id']}")
        assert event["type"] == "club.created" and event["data"]["club_id"] == club["id"]
        assert durable(nats_url, "clubs", "gateway").config.durable_name == "gateway"
    finally:
        admin.delete(f"/api/v1/webhooks/{subscription['id']}")
        assert inbox.server is not None
        inbox.server.shutdown()


def test_a_backfill_reads_the_earlier_events_from_the_stream(
    platform: Stack, admin: httpx.Client
) -> None:
    earlier = make_club(admin)
    body = {
        "url": "http://127.0.0.1:9/hook",
        "event_types": ["club.created"],
        "backfill_from": clock.today().isoformat(),
    }
    made = admin.post("/api/v1/webhooks", json=body)
    assert made.status_code == 201, made.text
    subscription = made.json()
    wait_until(
        lambda: not admin.get(f"/api/v1/webhooks/{subscription['id']}").json()["backfilling"],
        "the backfill",
    )
    logged = admin.get(f"/api/v1/webhooks/{subscription['id']}/deliveries").json()["items"]
    assert f"club:{earlier['id']}" in {d["subject"] for d in logged}
    admin.delete(f"/api/v1/webhooks/{subscription['id']}")


def test_two_relays_and_two_consumers_with_one_stopped_mid_batch_lose_and_repeat_nothing(
    platform: Stack, nats_url: str, admin: httpx.Client, api: Api
) -> None:
    """A second clubs worker and a second loans worker run beside the platform's (two relays
    of the clubs outbox, two copies of the loans service's consumer); the platform's loans
    service is stopped while clubs are being registered, and started again."""
    copies = Stack(
        database_urls=platform.database_urls,
        ports={**platform.ports, "clubs": free_port(), "loans": free_port()},
        var_dir=platform.var_dir,
        admin_password=ADMIN_PASSWORD,
        extra_env={**platform.extra_env, "CLUBS_PROCESS": "worker", "LOANS_PROCESS": "worker"},
    )
    copies.start(["clubs", "loans"], log_dir=platform.var_dir / "logs")
    subscription, inbox = subscribe_receiver(admin, "club.created")
    try:
        clubs = [make_club(admin) for _ in range(6)]
        platform.stop_one("loans")
        clubs += [make_club(admin) for _ in range(6)]
        platform.start_one("loans", log_dir=platform.var_dir / "logs")
        platform.wait_healthy("loans")
        clubs += [make_club(admin) for _ in range(6)]
        for club in clubs:
            wait_until(lambda c=club: len(funds_of(admin, c["id"])) == 2, "every club's funds")
        settle_events({c: platform.url(c) for c in FACTORIES}, api.token_for("service"))
        for club in clubs:
            inbox.wait_for(f"club:{club['id']}")
    finally:
        copies.stop()
        admin.delete(f"/api/v1/webhooks/{subscription['id']}")
        assert inbox.server is not None
        inbox.server.shutdown()
    assert_once_in_order(stream(nats_url, "clubs"))
    posted = [e["id"] for e in inbox.events]
    assert len(posted) == len(set(posted)) == len(clubs)  # each club's webhook once
    loans_engine = make_engine(normalise_url(platform.database_urls["loans"]))
    try:
        with Session(loans_engine) as session:
            cursor = ConsumerTables(MetaData()).cursor(session, "clubs")
    finally:
        loans_engine.dispose()
    assert cursor == max(m["position"] for m in stream(nats_url, "clubs"))


def test_a_feed_page_is_bounded_in_bytes_and_the_next_one_follows_it(
    platform: Stack, admin: httpx.Client, api: Api
) -> None:
    for _ in range(10):
        make_club(admin)
    headers = {"Authorization": f"Bearer {api.token_for('service')}"}
    seen: list[int] = []
    after, pages = 0, 0
    while True:
        pages += 1
        response = httpx.get(
            platform.url("clubs") + "/internal/events",
            params={"after": after, "limit": 1000},
            headers=headers,
        )
        assert len(response.content) < PAGE_BYTES + 1_000  # the events, and the page's fields
        body = response.json()
        seen += [event["position"] for event in body["events"]]
        if body["through"] >= body["last_position"]:
            break
        assert body["through"] == body["events"][-1]["position"]
        after = body["through"]
    assert pages > 1 and len(seen) >= 10 and seen == list(range(1, len(seen) + 1))


def test_a_bank_batch_is_one_small_message_per_province(
    platform: Stack, nats_url: str, api: Api
) -> None:
    bank = api.client(api.client_token(*api.create_client("bank", bank_code="VBSP")))
    answer = bank.post(
        BANKS + "/batches",
        json={"records": [record() for _ in range(300)]},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert answer.status_code == 200, answer.text

    def announced() -> list[dict[str, Any]]:
        return [
            m
            for m in stream(nats_url, "loans")
            if m["event"].type == "bank_loan.posted"
            and m["event"].data["batch_id"] == answer.json()["batch_id"]
        ]

    (message,) = wait_until(announced, "the batch's event in the loans stream")
    assert message["event"].data["created"] == 300 and message["size"] < 1_000


# Relays and consumers in this process, on a database of their own ------------------------------


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """A bare database for an outbox, a consumer's tables and what its handler applied."""
    if BACKEND == "postgres":
        with postgres_databases(os.environ["TEST_POSTGRES_URL"], ["events"], "jet") as urls:
            made = make_engine(normalise_url(urls["events"]))
            yield made
            made.dispose()
    else:
        made = make_engine(f"sqlite:///{tmp_path / 'events.db'}")
        yield made
        made.dispose()


class Scratch:
    """An outbox, a consumer's tables and `applied`: the positions the handler applied, in
    the order their transactions wrote them."""

    def __init__(self, engine: Engine) -> None:
        metadata = MetaData()
        self.engine = engine
        self.outbox = Outbox(metadata)
        self.tables = ConsumerTables(metadata)
        self.applied = Table(
            "applied",
            metadata,
            Column("id", Integer, primary_key=True, autoincrement=True),
            Column("position", Integer, nullable=False),
        )
        metadata.create_all(engine)

    def emit(self, count: int, start: int = 0) -> None:
        with Session(self.engine) as session:
            events = [
                Event(EventType.CLUB_CREATED, f"club:{n}", {"n": n})
                for n in range(start, start + count)
            ]
            self.outbox.emit(session, *events)
            session.commit()

    def handle(self, session: Session, event: FeedEvent) -> None:
        session.execute(insert(self.applied).values(position=event.position))

    def applied_positions(self) -> list[int]:
        with self.engine.connect() as connection:
            rows = connection.execute(select(self.applied.c.position).order_by(self.applied.c.id))
            return list(rows.scalars())

    def consumer(self, url: str, handler: Callable[[Session, FeedEvent], None]) -> EventConsumer:
        feed = JetStreamFeed("clubs", "loans", Broker(url), numbered=None)  # type: ignore[arg-type]
        return EventConsumer(
            "clubs", feed, self.tables, {EventType.CLUB_CREATED: handler}, page_size=25
        )

    def relay(self, url: str) -> Relay:
        return Relay("clubs", self.outbox, Broker(url), SETTINGS)


async def _relay_until(scratch: Scratch, relays: list[Relay], url: str, through: int) -> None:
    app = SimpleNamespace(state=SimpleNamespace(engine=scratch.engine))
    tasks = [asyncio.create_task(relay.run(app)) for relay in relays]  # type: ignore[arg-type]
    try:
        deadline = time.monotonic() + 60
        while await _published(url) < through:
            assert time.monotonic() < deadline, "the relays did not publish everything"
            await asyncio.sleep(0.1)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def _published(url: str) -> int:
    broker = Broker(url)
    try:
        js = await broker.jetstream()
        try:
            return await jetstream.last_position(js, stream_name("clubs"))
        except nats.js.errors.NotFoundError:
            return 0
    finally:
        await broker.close()


@pytest.fixture
def fresh_stream(tmp_path: Path) -> Iterator[str]:
    """A NATS server of the test's own, for the in-process relays: they publish a clubs stream
    of their own, which must not replace the module's platform's (tests run in random order)."""
    with nats_server(tmp_path) as url:
        yield url


def test_two_relays_at_once_publish_each_event_once_in_position_order(
    engine: Engine, fresh_stream: str
) -> None:
    scratch = Scratch(engine)
    scratch.emit(120)

    async def scenario() -> None:
        relays = [scratch.relay(fresh_stream), scratch.relay(fresh_stream)]
        writer = asyncio.get_running_loop().run_in_executor(None, scratch.emit, 80, 120)
        await writer
        await _relay_until(scratch, relays, fresh_stream, 200)

    asyncio.run(scenario())
    messages = stream(fresh_stream, "clubs")
    assert [m["position"] for m in messages] == list(range(1, 201))
    assert_once_in_order(messages)
    with engine.connect() as connection:
        ids = [e["id"] for e in scratch.outbox.read(connection, 0, 1000)]
    assert [m["msg_id"] for m in messages] == ids


def test_a_relay_that_dies_before_storing_its_position_repeats_nothing(
    engine: Engine, fresh_stream: str
) -> None:
    """It published a batch but never stored how far: once its lease has run out, the next
    relay starts from the stored position; the stream keeps each event once (it also drops
    an event published twice by its id)."""
    scratch = Scratch(engine)
    scratch.emit(60)

    class Dying(Relay):
        def _store(self, engine: Engine, through: int) -> bool:
            raise RuntimeError("killed before storing its position")

    async def scenario() -> None:
        dying = Dying("clubs", scratch.outbox, Broker(fresh_stream), SETTINGS)
        with pytest.raises(RuntimeError):
            await dying.relay_once(scratch.engine)
        await dying.broker.close()
        relays = scratch.outbox.relays
        with scratch.engine.begin() as connection:  # its lease runs out
            connection.execute(update(relays).values(leased_until=clock.utcnow()))
            assert connection.execute(select(relays.c.position)).scalar_one() == 0
        scratch.emit(20, 60)
        successor = scratch.relay(fresh_stream)
        await _relay_until(scratch, [successor], fresh_stream, 80)
        # The stream drops a second publication of an event by its id.
        with scratch.engine.connect() as connection:
            again = scratch.outbox.read(connection, 0, 10)
        broker = Broker(fresh_stream)
        await successor._publish(await broker.jetstream(), again, 0)
        await broker.close()

    asyncio.run(scenario())
    messages = stream(fresh_stream, "clubs")
    assert [m["position"] for m in messages] == list(range(1, 81))
    assert_once_in_order(messages)


def test_two_consumers_on_one_durable_apply_each_event_once_in_order(
    engine: Engine, fresh_stream: str
) -> None:
    scratch = Scratch(engine)
    scratch.emit(150)

    async def scenario() -> None:
        await _relay_until(scratch, [scratch.relay(fresh_stream)], fresh_stream, 150)
        consumers = [scratch.consumer(fresh_stream, scratch.handle) for _ in range(2)]
        try:
            await asyncio.gather(*(_catch_up_until(scratch, c, 150) for c in consumers))
        finally:
            for consumer in consumers:
                await consumer.feed.close()  # type: ignore[attr-defined]

    asyncio.run(scenario())
    assert scratch.applied_positions() == list(range(1, 151))
    with Session(engine) as session:
        assert scratch.tables.cursor(session, "clubs") == 150


async def _catch_up_until(scratch: Scratch, consumer: EventConsumer, through: int) -> None:
    """The consumer's own catching up, as its worker loop runs it, until its cursor (stored
    by whichever copy) reaches `through`."""
    deadline = time.monotonic() + 90
    while consumer._cursor(scratch.engine) < through:
        assert time.monotonic() < deadline, "the consumers did not apply everything"
        await consumer.catch_up(scratch.engine)
        await asyncio.sleep(0.05)


def test_a_consumer_that_dies_mid_batch_loses_nothing_once_started_again(
    engine: Engine, fresh_stream: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its page failed halfway (nothing of it stored) and it is gone without acknowledging
    what it held; JetStream delivers those messages again to the copy started next."""
    monkeypatch.setattr(jetstream, "ACK_WAIT_SECONDS", 2.0)
    scratch = Scratch(engine)
    scratch.emit(100)

    def dies_at_the_40th(session: Session, event: FeedEvent) -> None:
        if event.position == 40:
            raise SystemError("the worker died here")
        scratch.handle(session, event)

    async def scenario() -> None:
        await _relay_until(scratch, [scratch.relay(fresh_stream)], fresh_stream, 100)
        dying = scratch.consumer(fresh_stream, dies_at_the_40th)
        with pytest.raises(SystemError):
            await _catch_up_until(scratch, dying, 100)
        await dying.feed.close()  # type: ignore[attr-defined]
        assert dying._cursor(scratch.engine) == 25  # its first page of 25, stored
        restarted = scratch.consumer(fresh_stream, scratch.handle)
        try:
            await _catch_up_until(scratch, restarted, 100)
        finally:
            await restarted.feed.close()  # type: ignore[attr-defined]

    asyncio.run(scenario())
    assert scratch.applied_positions() == list(range(1, 101))
