"""Domain events: written with the change, numbered in commit order, followed by other services."""

import asyncio
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from sqlalchemy import Column, Integer, MetaData, Table, delete, text
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, select

from common import clock
from common.db import id_of, make_engine
from common.events.catalogue import EventType
from common.events.consumer import ConsumerTables, EventConsumer, FeedEvent
from common.events.dead_letters import replay
from common.events.outbox import Event, Outbox
from common.problem_codes import Code
from common.problems import Conflict
from common.sealing import blind_index
from gateway.tables import metadata as gateway_metadata
from gateway.webhooks.delivery import claim, prune_log
from gateway.webhooks.fanout import store_bodies
from gateway.webhooks.models import WebhookDelivery, WebhookEventBody, WebhookSubscription
from tests.factories import club_payload, consents, make_club, member_payload, national_id
from tests.support import Api, assert_problem, wait_until
from tests.test_funding import allocate, line_of, make_funder, make_plan, receive, wait_for_status
from tests.test_loans import RULES, act, approved_loan, repay
from tools.stack import Stack

FEED = "/internal/events"


class Feeds:
    """Reads the services' event feeds directly, as a platform service does."""

    def __init__(self, stack: Stack, token: str) -> None:
        self.stack = stack
        self.headers = {"Authorization": f"Bearer {token}"}

    def events(self, component: str, after: int = 0) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        while True:
            response = httpx.get(
                self.stack.url(component) + FEED,
                params={"after": after, "limit": 1000},
                headers=self.headers,
            )
            assert response.status_code == 200, response.text
            page = response.json()["events"]
            found += page
            if len(page) < 1000:
                return found
            after = page[-1]["position"]

    def about(self, component: str, subject: str) -> list[dict[str, Any]]:
        return [e for e in self.events(component) if e["subject"] == subject]

    def wait(
        self, component: str, subject: str, event_type: str, count: int = 1, seconds: float = 60
    ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + seconds
        while True:
            found = [e for e in self.about(component, subject) if e["type"] == event_type]
            if len(found) >= count or time.monotonic() > deadline:
                assert len(found) >= count, (subject, event_type, self.about(component, subject))
                return found
            time.sleep(0.2)


@pytest.fixture(scope="module")
def feeds(stack: Stack, token_for: Callable[..., str]) -> Feeds:
    return Feeds(stack, token_for("service"))


def funds_of(client: httpx.Client, club_id: int) -> dict[str, dict]:
    items = client.get("/api/v1/funds", params={"club_id": club_id}).json()["items"]
    return {fund["kind"]: fund for fund in items}


# The feeds -----------------------------------------------------------------------------------


def test_feeds_are_for_the_platforms_own_services(
    stack: Stack, api: Api, token_for: Callable[..., str]
) -> None:
    for component in ("clubs", "loans", "funding"):
        url = stack.url(component) + FEED
        assert_problem(httpx.get(url), 401)
        for role, scope in (("admin", {}), ("bank", {}), ("officer", {"provinces": ["10"]})):
            token = api.admin_token if role == "admin" else token_for(role, **scope)
            forbidden = httpx.get(url, headers={"Authorization": f"Bearer {token}"})
            assert_problem(forbidden, 403)
    assert httpx.get(stack.gateway_url + FEED).status_code == 404


def test_positions_follow_one_another_without_gaps(admin: httpx.Client, feeds: Feeds) -> None:
    make_club(admin)
    make_club(admin)
    positions = [event["position"] for event in feeds.events("clubs")]
    assert positions == list(range(1, len(positions) + 1))
    tail = feeds.events("clubs", after=positions[-2])
    assert [event["position"] for event in tail] == [positions[-1]]


def test_a_change_that_moves_no_count_announces_no_membership(
    admin: httpx.Client, feeds: Feeds
) -> None:
    club = make_club(admin)
    member = admin.post(f"/api/v1/clubs/{club['id']}/members", json=member_payload()).json()
    path = f"/api/v1/members/{member['id']}"
    assert admin.patch(path, json={"phone": "0987654321"}).status_code == 200
    assert admin.patch(path, json={"household_status": "near_poor"}).status_code == 200
    counted = [
        e["data"]["priority"]
        for e in feeds.about("clubs", f"club:{club['id']}")
        if e["type"] == "club.membership_changed"
    ]
    assert counted == [1, 1]  # joined (poor), then near-poor: still a priority household


def test_a_club_and_its_members_are_announced_in_order(admin: httpx.Client, feeds: Feeds) -> None:
    club = make_club(admin)
    member = admin.post(f"/api/v1/clubs/{club['id']}/members", json=member_payload()).json()
    left = admin.post(
        f"/api/v1/members/{member['id']}/leave",
        json={"left_on": clock.today().isoformat(), "reason": "moved away"},
    )
    assert left.status_code == 200, left.text
    suspended = admin.post(f"/api/v1/clubs/{club['id']}/status", json={"status": "suspended"})
    assert suspended.status_code == 200, suspended.text

    club_events = feeds.about("clubs", f"club:{club['id']}")
    assert [e["type"] for e in club_events] == [
        "club.created",
        "club.membership_changed",  # joined
        "club.membership_changed",  # left
        "club.status_changed",
    ]
    assert [e["data"]["members"] for e in club_events[1:3]] == [1, 0]
    assert club_events[3]["data"]["previous_status"] == "active"
    assert club_events[3]["data"]["status"] == "suspended"
    assert club_events[0]["scope"]["province_code"] == club["province_code"]
    member_events = feeds.about("clubs", f"member:{member['id']}")
    assert [e["type"] for e in member_events] == ["member.joined", "member.left"]
    joined = member_events[0]["data"]
    assert joined["club_id"] == club["id"] and joined["personal"]["national_id_blind_index"]
    assert member_events[1]["data"]["reason"] == "moved away"
    assert member_events[0]["position"] < member_events[1]["position"]


# What the loans service does with the clubs service's events ----------------------------------


def test_an_active_club_gets_both_its_funds_by_itself(admin: httpx.Client) -> None:
    club = make_club(admin)
    funds = wait_until(
        lambda: len(funds_of(admin, club["id"])) == 2 and funds_of(admin, club["id"]), "funds"
    )
    assert set(funds) == {"income_generation", "activity"}
    assert all(fund["balance"] == 0 for fund in funds.values())


def test_a_planned_club_gets_its_funds_when_it_is_activated(admin: httpx.Client) -> None:
    planned = make_club(admin, status="planned")
    active = make_club(admin)
    # Events are applied in order: once the later club has its funds, the planned one was seen.
    wait_until(lambda: len(funds_of(admin, active["id"])) == 2, "the active club's funds")
    assert funds_of(admin, planned["id"]) == {}
    activated = admin.post(f"/api/v1/clubs/{planned['id']}/status", json={"status": "active"})
    assert activated.status_code == 200, activated.text
    wait_until(lambda: len(funds_of(admin, planned["id"])) == 2, "the activated club's funds")


# The loans service's events ------------------------------------------------------------------


def _club_with_a_borrower(admin: httpx.Client) -> dict[str, Any]:
    club = make_club(admin)
    member = admin.post(f"/api/v1/clubs/{club['id']}/members", json=member_payload()).json()
    funds = wait_until(lambda: funds_of(admin, club["id"]).get("income_generation"), "fund")
    capital = {
        "amount": 50_000_000,
        "occurred_on": "2020-01-01",
        "origin": "seed",
        "reference": "s",
    }
    assert admin.post(f"/api/v1/funds/{funds['id']}/capital", json=capital).status_code == 201
    assert admin.put(f"/api/v1/funds/{funds['id']}/loan-rules", json=RULES).status_code in (
        200,
        201,
    )
    return {**club, "member_id": member["id"]}


def test_loans_paid_out_and_repaid_are_announced(admin: httpx.Client, feeds: Feeds) -> None:
    club = _club_with_a_borrower(admin)
    today = clock.today()
    loan = approved_loan(admin, club, applied_on=today.isoformat())
    disbursed = act(admin, loan["id"], "disburse", disbursed_on=today.isoformat())
    assert disbursed.status_code == 200, disbursed.text
    assert repay(admin, loan["id"], 500_000, today.isoformat()).status_code == 201

    events = feeds.wait("loans", f"loan:{loan['id']}", "loan.repaid")
    assert [e["type"] for e in feeds.about("loans", f"loan:{loan['id']}")] == [
        "loan.disbursed",
        "loan.repaid",
    ]
    repaid = events[0]["data"]
    assert repaid["amount"] == 500_000 == repaid["principal_part"] + repaid["interest_part"]
    assert repaid["club_id"] == club["id"] and repaid["member_id"] == club["member_id"]


def test_an_instalment_that_fell_due_unpaid_is_announced_once(
    admin: httpx.Client, feeds: Feeds
) -> None:
    club = _club_with_a_borrower(admin)
    start = clock.today() - timedelta(days=75)
    loan = approved_loan(admin, club, applied_on=start.isoformat())
    disbursed = act(admin, loan["id"], "disburse", disbursed_on=start.isoformat())
    assert disbursed.status_code == 200, disbursed.text
    # Two monthly instalments fell due since; the watch runs every second in the tests.
    overdue = feeds.wait("loans", f"loan:{loan['id']}", "loan.overdue", count=2)
    time.sleep(2.5)
    again = [e for e in feeds.about("loans", f"loan:{loan['id']}") if e["type"] == "loan.overdue"]
    assert len(again) == 2
    assert [e["data"]["instalment"] for e in again] == [1, 2]
    assert overdue[0]["data"]["unpaid_through_instalment"] > 0


# The funding service's events ----------------------------------------------------------------


def test_plans_approved_and_allocations_recorded_are_announced(
    admin: httpx.Client, feeds: Feeds
) -> None:
    plan = make_plan(admin)
    approved = feeds.wait("funding", f"plan:{plan['series_id']}", "plan.approved")
    assert approved[0]["data"]["plan_id"] == plan["id"]
    funder = make_funder(admin)
    line = line_of(plan, "seed_capital")
    receive(admin, funder, line, 10_000_000)
    club = make_club(admin)
    allocation = allocate(admin, funder, line, club, 4_000_000)
    assert allocation.status_code == 201, allocation.text
    recorded = wait_for_status(admin, allocation.json()["id"], "recorded")
    events = feeds.wait("funding", f"allocation:{recorded['id']}", "allocation.recorded")
    data = events[0]["data"]
    assert (data["club_id"], data["amount"], data["funder_id"]) == (
        club["id"],
        4_000_000,
        funder["id"],
    )
    assert data["ledger_entry_id"] == recorded["ledger_entry_id"]
    assert events[0]["scope"]["funder_id"] == funder["id"]


# The outbox and the consumer on a database of their own ---------------------------------------


def _tables(engine: Any) -> tuple[Outbox, ConsumerTables]:
    metadata = MetaData()
    outbox, consumer = Outbox(metadata), ConsumerTables(metadata)
    metadata.create_all(engine)
    return outbox, consumer


def _event(subject: str) -> Event:
    return Event(EventType.CLUB_CREATED, subject, {"n": subject})


def test_an_event_committed_late_is_numbered_after_those_already_read(scratch_engine: Any) -> None:
    if scratch_engine.dialect.name != "postgresql":
        pytest.skip("SQLite has one writer at a time: no transaction commits out of id order")
    outbox, _ = _tables(scratch_engine)
    slow = Session(scratch_engine)
    outbox.emit(slow, _event("club:1"))  # takes the first id, commits last
    with Session(scratch_engine) as fast:
        outbox.emit(fast, _event("club:2"))
        fast.commit()
    outbox.sequence(scratch_engine)
    with scratch_engine.connect() as connection:
        first = outbox.read(connection, 0, 10)
    assert [(e["subject"], e["position"]) for e in first] == [("club:2", 1)]
    slow.commit()
    slow.close()
    outbox.sequence(scratch_engine)
    with scratch_engine.connect() as connection:
        later = outbox.read(connection, 1, 10)
    assert [(e["subject"], e["position"]) for e in later] == [("club:1", 2)]


def test_concurrent_sequencers_never_give_one_position_twice(scratch_engine: Any) -> None:
    outbox, _ = _tables(scratch_engine)
    errors: list[BaseException] = []

    def write_and_sequence(n: int) -> None:
        try:
            for i in range(20):
                with Session(scratch_engine) as session:
                    outbox.emit(session, _event(f"club:{n}-{i}"))
                    session.commit()
                outbox.sequence(scratch_engine)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write_and_sequence, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if scratch_engine.dialect.name == "sqlite":
        errors = [e for e in errors if "locked" not in str(e)]
    assert errors == []
    outbox.sequence(scratch_engine)
    with scratch_engine.connect() as connection:
        events = outbox.read(connection, 0, 1000)
        unnumbered = connection.execute(
            text("SELECT COUNT(*) FROM outbox_events WHERE position IS NULL")
        ).scalar()
    assert [e["position"] for e in events] == list(range(1, len(events) + 1))
    assert unnumbered == 0


def test_a_consumer_applies_each_event_once_and_resumes_after_its_cursor(
    scratch_engine: Any,
) -> None:
    _, tables = _tables(scratch_engine)
    applied: list[str] = []
    consumer = EventConsumer(
        "clubs",
        None,  # type: ignore[arg-type]  # pages are handed over directly here
        tables,
        {"club.created": lambda _session, event: applied.append(event.subject)},
    )
    page = [
        FeedEvent(f"id-{n}", n, "club.created", f"club:{n}", "2026-01-01T00:00:00", {}, {})
        for n in (1, 2, 3)
    ]
    consumer._apply(scratch_engine, page, 0, 3)
    consumer._apply(scratch_engine, page[1:], 3, 3)  # a feed that repeats itself
    assert applied == ["club:1", "club:2", "club:3"]
    assert consumer._cursor(scratch_engine) == 3

    def failing(_session: Session, _event: FeedEvent) -> None:
        raise RuntimeError("the handler's own database failed")

    consumer.handlers = {"club.created": failing}
    with pytest.raises(RuntimeError):
        consumer._apply(
            scratch_engine, [FeedEvent("id-4", 4, "club.created", "club:4", "", {}, {})], 3, 4
        )
    assert consumer._cursor(scratch_engine) == 3  # the page is tried again, nothing half-applied


def _pages(*bounds: tuple[int, int]) -> list[list[FeedEvent]]:
    return [
        [
            FeedEvent(f"id-{n}", n, "club.created", f"club:{n}", "2026-01-01T00:00:00", {}, {})
            for n in range(first, last + 1)
        ]
        for first, last in bounds
    ]


def test_two_copies_of_a_consumer_apply_a_page_once_and_never_move_the_cursor_back(
    scratch_engine: Any,
) -> None:
    _, tables = _tables(scratch_engine)
    applied: list[str] = []
    handlers = {"club.created": lambda _session, event: applied.append(event.subject)}
    first, second = (EventConsumer("clubs", None, tables, handlers) for _ in range(2))  # type: ignore[arg-type]
    early, late = _pages((1, 3), (4, 6))
    first._apply(scratch_engine, early, 0, 3)
    second._apply(scratch_engine, early, 0, 3)  # it read the same page before the first stored it
    first._apply(scratch_engine, late, 3, 6)
    second._apply(scratch_engine, early, 0, 3)  # a copy far behind
    assert applied == [f"club:{n}" for n in range(1, 7)]
    assert second._cursor(scratch_engine) == 6


def test_many_workers_at_once_apply_each_page_once(scratch_engine: Any) -> None:
    """Eight copies of a consumer, each in a thread with its own connections, read the same
    pages at the same moment: every event is applied once, whoever wins each page."""
    engine = make_engine(scratch_engine.url.render_as_string(hide_password=False))
    _, tables = _tables(engine)
    applied: list[str] = []
    lock = threading.Lock()

    def handle(_session: Session, event: FeedEvent) -> None:
        with lock:
            applied.append(event.subject)

    pages = _pages((1, 50), (51, 100), (101, 150))
    bounds = [(0, 50), (50, 100), (100, 150)]
    start = threading.Barrier(8)
    errors: list[BaseException] = []

    def worker() -> None:
        consumer = EventConsumer("clubs", None, tables, {"club.created": handle})  # type: ignore[arg-type]
        try:
            start.wait()
            for page, (after, through) in zip(pages, bounds, strict=True):
                consumer._apply(engine, page, after, through)
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    engine.dispose()
    assert errors == []
    assert sorted(applied) == sorted(f"club:{n}" for n in range(1, 151))


def test_a_quiet_feed_is_asked_less_often_until_the_consumer_is_woken() -> None:
    """Asking an empty feed every poll cost the idle platform a tenth of two cores."""
    consumer = EventConsumer(
        "clubs",
        None,  # type: ignore[arg-type]  # the feed's answers are counted, not read, here
        None,  # type: ignore[arg-type]
        {},
        poll_seconds=0.05,
        idle_poll_seconds=0.4,
    )
    asked: list[float] = []

    async def nothing_new(_engine: Any) -> int:
        asked.append(time.monotonic())
        return 0

    consumer.catch_up = nothing_new  # type: ignore[method-assign]

    async def scenario() -> tuple[int, int, int, float]:
        app = SimpleNamespace(state=SimpleNamespace(engine=None))
        worker = asyncio.create_task(consumer.run(app))  # type: ignore[arg-type]
        await asyncio.sleep(1.3)
        quiet = len(asked)
        consumer.wake()
        await asyncio.sleep(0.1)
        woken = len(asked)
        burst = time.monotonic()
        for _ in range(20):  # a burst of changes: still one question per 0.05 s at most
            consumer.wake()
            await asyncio.sleep(0.01)
        worker.cancel()
        return quiet, woken, len(asked) - woken, time.monotonic() - burst

    quiet, woken, during_burst, burst_seconds = asyncio.run(scenario())
    # Pauses of 0.1, 0.2, 0.4, 0.4 … s: about 5 questions in 1.3 s rather than 26.
    assert 3 <= quiet <= 7, asked
    assert woken == quiet + 1
    assert during_burst <= burst_seconds / 0.05 + 1, asked


def test_a_joining_carries_the_blind_index_only_with_consent_and_no_personal_field(
    admin: httpx.Client, feeds: Feeds
) -> None:
    club = make_club(admin)
    nid = national_id(1961, "female")
    member = admin.post(
        f"/api/v1/clubs/{club['id']}/members",
        json=member_payload(national_id=nid, birth_date="1961-02-03"),
    ).json()
    joined = feeds.about("clubs", f"member:{member['id']}")[0]
    assert joined["data"]["personal"] == {"national_id_blind_index": blind_index(nid)}
    assert joined["data"]["consents"] == ["bank_matching", "funder_figures", "membership"]
    assert nid not in str(joined) and "1961" not in str(joined)
    assert "full_name" not in joined["data"] and "phone" not in joined["data"]
    unconsenting = admin.post(
        f"/api/v1/clubs/{club['id']}/members",
        json=member_payload(consents=consents("membership")),
    ).json()
    joined = feeds.about("clubs", f"member:{unconsenting['id']}")[0]
    assert joined["data"]["personal"] == {"national_id_blind_index": None}


def test_a_reader_asks_for_some_types_and_moves_past_the_rest(
    admin: httpx.Client, feeds: Feeds
) -> None:
    club = make_club(admin)
    admin.post(f"/api/v1/clubs/{club['id']}/status", json={"status": "suspended"})
    response = httpx.get(
        feeds.stack.url("clubs") + FEED,
        params={"after": 0, "types": "club.status_changed"},
        headers=feeds.headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert {e["type"] for e in body["events"]} == {"club.status_changed"}
    assert f"club:{club['id']}" in {e["subject"] for e in body["events"]}
    assert body["through"] == body["last_position"] >= body["events"][-1]["position"]


def test_old_events_and_finished_deliveries_are_dropped(scratch_engine: Any) -> None:
    outbox, tables = _tables(scratch_engine)
    with Session(scratch_engine) as session:
        outbox.emit(session, _event("club:1"), _event("club:2"))
        session.commit()
    outbox.sequence(scratch_engine)
    with Session(scratch_engine) as session:
        outbox.emit(session, _event("club:3"))  # not numbered yet: never dropped
        tables.mark(session, "clubs", ["id-1"])
        session.commit()
    later = datetime.now(UTC) + timedelta(seconds=1)
    # The newest numbered event stays, so numbering goes on after it.
    assert outbox.prune(scratch_engine, later) == 1
    assert tables.prune(scratch_engine, later) == 1
    outbox.sequence(scratch_engine)
    with scratch_engine.connect() as connection:
        kept = outbox.read(connection, 0, 10)
        assert [(e["subject"], e["position"]) for e in kept] == [("club:2", 2), ("club:3", 3)]
        assert outbox.first_position(connection) == 2


def _body(session: Session, event_id: str) -> int:
    """A stored body of the event, for its deliveries to refer to."""
    body = WebhookEventBody(event_id=event_id, digest=event_id, body="{}")
    session.add(body)
    session.flush()
    return id_of(body)


def test_the_delivery_log_keeps_what_is_still_to_be_sent(scratch_engine: Any) -> None:
    gateway_metadata.create_all(scratch_engine)
    old = datetime.now(UTC) - timedelta(days=40)
    with Session(scratch_engine) as session:
        hook, other = (
            WebhookSubscription(
                owner="user:x", url="https://x.example/", event_types=["club.created"], secret="s"
            )
            for _ in range(2)
        )
        session.add_all([hook, other])
        session.flush()
        bodies = [_body(session, f"e{n}") for n in range(4)]
        for n, (status, made) in enumerate(
            [
                ("delivered", old),
                ("failed", old),
                ("pending", old),
                ("delivered", datetime.now(UTC)),
            ]
        ):
            session.add(
                WebhookDelivery(
                    subscription_id=hook.id,  # type: ignore[arg-type]
                    event_id=f"e{n}",
                    event_type="club.created",
                    subject="club:1",
                    body_id=bodies[n],
                    status=status,
                    created_at=made,
                )
            )
        session.add(  # the other subscription's, of the same body, still to be sent
            WebhookDelivery(
                subscription_id=other.id,  # type: ignore[arg-type]
                event_id="e0",
                event_type="club.created",
                subject="club:1",
                body_id=bodies[0],
                status="pending",
                created_at=old,
            )
        )
        session.commit()
        other_id = other.id

    def kept() -> tuple[list[str], list[str]]:
        with Session(scratch_engine) as session:
            sent = select(WebhookDelivery.event_id).order_by(WebhookDelivery.event_id)
            bodies = select(WebhookEventBody.event_id).order_by(WebhookEventBody.event_id)
            return list(session.exec(sent).all()), list(session.exec(bodies).all())

    assert prune_log(scratch_engine, datetime.now(UTC) - timedelta(days=30)) == 2
    assert kept() == (["e0", "e2", "e3"], ["e0", "e2", "e3"])
    with Session(scratch_engine) as session:  # as removing the subscription does (cascade)
        session.execute(delete(WebhookDelivery).where(WebhookDelivery.subscription_id == other_id))
        session.commit()
    assert prune_log(scratch_engine, datetime.now(UTC) - timedelta(days=30)) == 0
    assert kept() == (["e2", "e3"], ["e2", "e3"])


def test_an_events_body_is_stored_once_however_often_it_is_fanned_out(
    scratch_engine: Any,
) -> None:
    """Two workers fanning out the same events (or a backfill after the live feed) find the
    bodies stored by the first."""
    gateway_metadata.create_all(scratch_engine)
    now = datetime.now(UTC)
    bodies = {("e1", "d1"): "{}", ("e1", "d2"): "[]", ("e2", "d1"): "{}"}
    with Session(scratch_engine) as first:
        stored = store_bodies(first, bodies, now)
        first.commit()
    with Session(scratch_engine) as second:
        again = store_bodies(second, {("e1", "d2"): "[]", ("e3", "d3"): "1"}, now)
        second.commit()
        count = len(second.exec(select(WebhookEventBody.id)).all())
    assert set(stored) == set(bodies) and len(set(stored.values())) == 3
    assert again[("e1", "d2")] == stored[("e1", "d2")] and count == 4


def test_two_webhook_senders_take_each_due_delivery_once(scratch_engine: Any) -> None:
    """Two gateway workers read the same due deliveries; each is claimed (and so posted) by
    one of them, and a claim held by a sender that died is free again after its lease."""
    gateway_metadata.create_all(scratch_engine)
    now = datetime.now(UTC)
    with Session(scratch_engine) as session:
        hook = WebhookSubscription(
            owner="user:x", url="https://x.example/", event_types=["club.created"], secret="s"
        )
        session.add(hook)
        session.flush()
        for n in range(6):
            session.add(
                WebhookDelivery(
                    subscription_id=hook.id,  # type: ignore[arg-type]
                    event_id=f"e{n}",
                    event_type="club.created",
                    subject=f"club:{n}",
                    body_id=_body(session, f"e{n}"),
                    status="pending",
                    next_attempt_at=now - timedelta(seconds=1),
                )
            )
        session.commit()
        ids = [d.id for d in session.exec(select(WebhookDelivery)).all()]
    lease = timedelta(seconds=40)
    with Session(scratch_engine) as first, Session(scratch_engine) as second:
        taken = claim(first, ids, now, lease)
        first.commit()
        again = claim(second, ids, now, lease)
        second.commit()
    assert taken == set(ids)
    assert again == set()
    with Session(scratch_engine) as later:
        assert claim(later, ids, now + lease + timedelta(seconds=1), lease) == set(ids)


def _feed_of(events: list[FeedEvent]) -> Callable[..., Any]:
    """A feed that serves `events` (the consumer's `read`)."""

    async def read(after: int, _types: Any, limit: int | None = None) -> Any:
        page = [e for e in events if e.position > after][: limit or 500]
        return page, (page[-1].position if page else after), events[-1].position

    return read


def _catch_up_until_done(consumer: EventConsumer, engine: Any, last: int) -> int:
    """Catches up as the worker loop would, without its pauses; answers how many tries failed."""
    failed = 0
    while consumer._cursor(engine) < last:
        try:
            asyncio.run(consumer.catch_up(engine))
        except Exception:
            failed += 1
        assert failed < 50, "the consumer never got past the failing event"
    return failed


def test_an_event_that_keeps_failing_is_put_aside_and_replayed_once_fixed(
    scratch_engine: Any,
) -> None:
    _, tables = _tables(scratch_engine)
    done_table = Table("applied", MetaData(), Column("position", Integer, nullable=False))
    done_table.create(scratch_engine)
    (events,) = _pages((1, 6))
    broken = {4}

    def handle(session: Session, event: FeedEvent) -> None:
        if event.position in broken:
            raise ValueError(f"club {event.position} is not known here")
        session.execute(done_table.insert().values(position=event.position))

    def applied() -> list[int]:
        with Session(scratch_engine) as session:
            return list(session.execute(select(done_table.c.position)).scalars())

    consumer = EventConsumer("clubs", None, tables, {"club.created": handle}, max_attempts=3)  # type: ignore[arg-type]
    consumer.read = _feed_of(events)  # type: ignore[method-assign]
    # The page fails 3 times; read one at a time, 1-3 pass and 4 fails 3 times, then is put
    # aside (its last failure raises nothing) and 5-6 pass.
    assert _catch_up_until_done(consumer, scratch_engine, 6) == 5
    assert applied() == [1, 2, 3, 5, 6]
    with Session(scratch_engine) as session:
        (letter,) = session.execute(select(tables.dead_letters)).all()
    assert (letter.position, letter.attempts, letter.replayed_at) == (4, 3, None)
    assert letter.error == "ValueError: club 4 is not known here"

    with pytest.raises(Conflict) as still:
        replay(scratch_engine, tables, {"clubs": consumer}, letter.id, "user:admin")
    assert still.value.code == Code.DEAD_LETTER_STILL_FAILING
    broken.clear()
    done = replay(scratch_engine, tables, {"clubs": consumer}, letter.id, "user:admin")
    assert (done.replayed_by, applied()[-1]) == ("user:admin", 4)
    with pytest.raises(Conflict) as twice:
        replay(scratch_engine, tables, {"clubs": consumer}, letter.id, "user:admin")
    assert twice.value.code == Code.DEAD_LETTER_REPLAYED
    assert applied().count(4) == 1


def test_an_outage_puts_no_event_aside(scratch_engine: Any) -> None:
    """Failures of reaching the database or a service are not the event's: tried for ever."""
    _, tables = _tables(scratch_engine)
    (events,) = _pages((1, 2))

    def unreachable(_session: Session, _event: FeedEvent) -> None:
        raise OperationalError("SELECT 1", {}, ConnectionError("server closed the connection"))

    consumer = EventConsumer("clubs", None, tables, {"club.created": unreachable}, max_attempts=2)  # type: ignore[arg-type]
    consumer.read = _feed_of(events)  # type: ignore[method-assign]
    for _ in range(8):
        with pytest.raises(OperationalError):
            asyncio.run(consumer.catch_up(scratch_engine))
    assert consumer._cursor(scratch_engine) == 0
    with Session(scratch_engine) as session:
        assert session.execute(select(tables.dead_letters)).all() == []


def test_an_erasure_reaches_the_events_put_aside(scratch_engine: Any) -> None:
    _, tables = _tables(scratch_engine)
    joined = FeedEvent(
        "id-9", 9, "member.joined", "member:7", "2026-01-01T00:00:00", {},
        {"member_id": 7, "reason": "Chuyển đi Hà Nội",
         "personal": {"national_id_blind_index": "abc"}},
    )  # fmt: skip
    tables.set_aside(scratch_engine, "clubs", joined, (0, 9), "KeyError: 'club_id'", 5)
    with Session(scratch_engine) as session, session.begin():
        tables.forget_personal(session, "member:7")
    with Session(scratch_engine) as session:
        (event,) = session.execute(select(tables.dead_letters.c.event)).scalars()
    assert event["data"] == {
        "member_id": 7,
        "reason": "",
        "personal": {"national_id_blind_index": None},
    }
    assert event["subject"] == "member:7"


def test_an_event_keeps_the_id_of_the_request_that_caused_it(
    admin: httpx.Client, feeds: Feeds
) -> None:
    request_id = f"follow-{uuid.uuid4().hex[:12]}"
    answer = admin.post("/api/v1/clubs", json=club_payload(), headers={"X-Request-ID": request_id})
    assert answer.status_code == 201, answer.text
    (created,) = feeds.wait("clubs", f"club:{answer.json()['id']}", "club.created")
    assert created["request_id"] == request_id
