"""Webhooks through the gateway: subscribed, signed, scoped, retried, logged and redelivered."""

import asyncio
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import httpx
import orjson
import pytest
import uvloop
from sqlmodel import Session, col, select

from common import clock
from common.db import make_engine
from gateway.settings import GatewaySettings
from gateway.webhooks import addresses, signing
from gateway.webhooks.addresses import PrivateAddress, check_host, checked_addresses
from gateway.webhooks.delivery import Attempt, Due, Sender, prune_log
from gateway.webhooks.models import WebhookDelivery, WebhookEventBody
from tests.factories import HA_NOI, HA_NOI_COMMUNE, LAO_CAI, make_club, member_payload
from tests.support import assert_problem, wait_until
from tests.test_funding import allocate, line_of, make_funder, make_plan, receive, wait_for_status
from tools.stack import Stack, free_port
from tools.webhook_receiver import WebhookReceiver, authentic

HOOKS = "/api/v1/webhooks"


class Inbox:
    """A running example receiver and what it received; `failures` posts are answered 500."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.failures = 0
        self.server: WebhookReceiver | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def start(self, secret: str) -> None:
        self.server = WebhookReceiver(free_port(), secret, self._handle, "127.0.0.1")
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _handle(self, event: dict[str, Any]) -> None:
        if self.failures > 0:
            self.failures -= 1
            raise RuntimeError("the receiver is down for a moment")
        self.events.append(event)

    def of(self, subject: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["subject"] == subject]

    def wait_for(self, subject: str, count: int = 1, seconds: float = 60) -> list[dict[str, Any]]:
        deadline = time.monotonic() + seconds
        while len(self.of(subject)) < count:
            assert time.monotonic() < deadline, (subject, self.events)
            time.sleep(0.1)
        return self.of(subject)


def subscribe_receiver(client: httpx.Client, *event_types: str) -> tuple[dict, Inbox]:
    """Subscribes a fresh running receiver for the client."""
    inbox = Inbox()
    # The URL is known only once the server runs, and its secret only once subscribed.
    placeholder = {"url": "http://127.0.0.1:9/hook", "event_types": list(event_types)}
    response = client.post(HOOKS, json=placeholder)
    assert response.status_code == 201, response.text
    subscription = response.json()
    inbox.start(subscription["secret"])
    moved = client.patch(f"{HOOKS}/{subscription['id']}", json={"url": inbox.url})
    assert moved.status_code == 200, moved.text
    return subscription, inbox


@pytest.fixture
def subscribe() -> Iterator[Callable[..., tuple[dict, Inbox]]]:
    """`subscribe_receiver`, unsubscribed and stopped afterwards."""
    made: list[tuple[httpx.Client, dict, Inbox]] = []

    def make(client: httpx.Client, *event_types: str) -> tuple[dict, Inbox]:
        subscription, inbox = subscribe_receiver(client, *event_types)
        made.append((client, subscription, inbox))
        return subscription, inbox

    yield make
    for client, subscription, inbox in made:
        client.delete(f"{HOOKS}/{subscription['id']}")
        assert inbox.server is not None
        inbox.server.shutdown()


def deliveries(client: httpx.Client, subscription: dict, **params: Any) -> list[dict]:
    response = client.get(f"{HOOKS}/{subscription['id']}/deliveries", params=params)
    assert response.status_code == 200, response.text
    return response.json()["items"]


def two_funders(admin: httpx.Client) -> tuple[dict, dict, dict]:
    """A plan's seed-capital line and two funders: ours and theirs."""
    line = line_of(make_plan(admin), "seed_capital")
    return line, make_funder(admin), make_funder(admin)


def wait_for_delivery(client: httpx.Client, subscription: dict, status: str) -> dict:
    found = wait_until(lambda: deliveries(client, subscription, status=status), f"a {status} one")
    return found[0]


# Signed and delivered ------------------------------------------------------------------------


def test_an_event_arrives_signed_and_once(
    admin: httpx.Client, subscribe: Callable[..., tuple[dict, Inbox]]
) -> None:
    subscription, inbox = subscribe(admin, "club.created")
    assert subscription["secret"].startswith("whsec_")
    club = make_club(admin)
    (event,) = inbox.wait_for(f"club:{club['id']}")
    assert event["type"] == "club.created"
    assert event["data"]["club_id"] == club["id"] and event["data"]["status"] == "active"
    delivered = wait_for_delivery(admin, subscription, "delivered")
    assert delivered["event_id"] == event["id"] and delivered["attempts"] == 1
    assert delivered["last_status_code"] == 200
    listed = admin.get(f"{HOOKS}/{subscription['id']}").json()
    assert "secret" not in listed and listed["url"] == inbox.url


def test_a_receiver_refuses_a_forged_or_replayed_post() -> None:
    body = b'{"id": "e1", "type": "club.created"}'
    now = int(time.time())
    signed = signing.signature("whsec_right", now, body)
    assert authentic("whsec_right", str(now), signed, body, now)
    assert not authentic("whsec_wrong", str(now), signed, body, now)
    assert not authentic("whsec_right", str(now), signed, body + b" ", now)
    assert not authentic("whsec_right", str(now), signed, body, now + 3600)  # replayed later
    assert not authentic("whsec_right", "soon", signed, body, now)


def test_a_failing_receiver_gets_the_event_again_later(
    admin: httpx.Client, subscribe: Callable[..., tuple[dict, Inbox]]
) -> None:
    subscription, inbox = subscribe(admin, "club.created", "club.status_changed")
    inbox.failures = 2
    club = make_club(admin)
    for status in ("suspended", "active"):
        changed = admin.post(f"/api/v1/clubs/{club['id']}/status", json={"status": status})
        assert changed.status_code == 200, changed.text
    events = inbox.wait_for(f"club:{club['id']}", count=3)
    # In order, although the first had to be sent three times.
    assert [e["type"] for e in events] == ["club.created"] + ["club.status_changed"] * 2
    assert [e["data"]["status"] for e in events] == ["active", "suspended", "active"]
    log = deliveries(admin, subscription, event_type="club.created")
    assert log[0]["status"] == "delivered" and log[0]["attempts"] == 3


def test_a_delivery_that_kept_failing_can_be_sent_again_by_hand(
    admin: httpx.Client, subscribe: Callable[..., tuple[dict, Inbox]]
) -> None:
    subscription, inbox = subscribe(admin, "club.created")
    inbox.failures = 4  # the tests' GATEWAY_WEBHOOK_MAX_ATTEMPTS
    club = make_club(admin)
    failed = wait_for_delivery(admin, subscription, "failed")
    assert failed["attempts"] == 4 and failed["last_status_code"] == 500
    assert inbox.of(f"club:{club['id']}") == []
    again = admin.post(f"{HOOKS}/{subscription['id']}/deliveries/{failed['id']}/redeliver")
    assert again.status_code == 202, again.text
    assert again.json()["status"] == "pending"
    inbox.wait_for(f"club:{club['id']}")
    assert wait_for_delivery(admin, subscription, "delivered")["id"] == failed["id"]


def test_subscribers_shown_the_same_event_share_its_stored_body(
    admin: httpx.Client, stack: Stack, subscribe: Callable[..., tuple[dict, Inbox]]
) -> None:
    first, first_inbox = subscribe(admin, "club.created")
    second, second_inbox = subscribe(admin, "club.created")
    club = make_club(admin)
    (posted,) = first_inbox.wait_for(f"club:{club['id']}")
    # Each receiver checked the signature made with its own secret over the same body.
    assert second_inbox.wait_for(f"club:{club['id']}") == [posted]
    engine = make_engine(stack.database_urls["gateway"])
    try:
        with Session(engine) as session:
            sent = session.exec(
                select(WebhookDelivery).where(
                    WebhookDelivery.event_id == posted["id"],
                    col(WebhookDelivery.subscription_id).in_([first["id"], second["id"]]),
                )
            ).all()
            (body_id,) = {delivery.body_id for delivery in sent}
            body = session.get_one(WebhookEventBody, body_id)
        assert len(sent) == 2 and orjson.loads(body.body) == posted
        # Removing the subscriptions takes their deliveries; the next pruning of the log drops
        # the body nothing refers to (a cut-off long past keeps every delivery of other tests).
        for subscription in (first, second):
            removed = admin.delete(f"{HOOKS}/{subscription['id']}")
            assert removed.status_code == 204, removed.text
        prune_log(engine, datetime.now(UTC) - timedelta(days=3650))
        with Session(engine) as session:
            assert session.get(WebhookEventBody, body_id) is None
    finally:
        engine.dispose()


# Only what the subscriber may see --------------------------------------------------------------


def test_an_officer_receives_events_of_their_province_only(
    admin: httpx.Client,
    as_role: Callable[..., httpx.Client],
    subscribe: Callable[..., tuple[dict, Inbox]],
) -> None:
    officer = as_role("officer", provinces=[LAO_CAI])
    _, inbox = subscribe(officer, "club.created", "member.joined")
    elsewhere = make_club(admin, province_code=HA_NOI, commune_code=HA_NOI_COMMUNE)
    theirs = make_club(admin)
    member = admin.post(f"/api/v1/clubs/{theirs['id']}/members", json=member_payload()).json()
    (joined,) = inbox.wait_for(f"member:{member['id']}")
    assert inbox.of(f"club:{theirs['id']}") and inbox.of(f"club:{elsewhere['id']}") == []
    # Members' personal data never leaves in a webhook.
    assert "personal" not in joined["data"]
    assert member["national_id"] not in str(joined)


def test_a_partner_hears_of_its_own_money_and_the_clubs_it_funds(
    admin: httpx.Client,
    as_role: Callable[..., httpx.Client],
    subscribe: Callable[..., tuple[dict, Inbox]],
) -> None:
    line, ours, theirs = two_funders(admin)
    for funder in (ours, theirs):
        receive(admin, funder, line, 50_000_000)
    partner = as_role("partner", funder_id=ours["id"])
    _, inbox = subscribe(partner, "allocation.recorded", "club.status_changed", "club.created")
    funded, other = make_club(admin), make_club(admin)
    # A new club is news to every partner (one it may fund); its other events are not.
    for club in (funded, other):
        inbox.wait_for(f"club:{club['id']}")
    mine = allocate(admin, ours, line, funded, 5_000_000).json()
    not_mine = allocate(admin, theirs, line, other, 5_000_000).json()
    for allocation in (mine, not_mine):
        wait_for_status(admin, allocation["id"], "recorded")
    inbox.wait_for(f"allocation:{mine['id']}")
    for club in (other, funded):  # the funded club last: its event comes after the other's
        changed = admin.post(f"/api/v1/clubs/{club['id']}/status", json={"status": "suspended"})
        assert changed.status_code == 200, changed.text
    inbox.wait_for(f"club:{funded['id']}", count=2)  # created, then its change
    assert inbox.of(f"allocation:{not_mine['id']}") == []
    assert [event["type"] for event in inbox.of(f"club:{other['id']}")] == ["club.created"]


def test_each_role_subscribes_only_to_what_it_may_read(
    as_role: Callable[..., httpx.Client], admin: httpx.Client
) -> None:
    partner = as_role("partner", funder_id=1)
    bank = as_role("bank")
    hook = {"url": "https://partner.example/hook"}
    refused = partner.post(HOOKS, json={**hook, "event_types": ["member.joined"]})
    assert_problem(refused, 422, "event_types")
    assert_problem(bank.post(HOOKS, json={**hook, "event_types": ["club.created"]}), 422)
    types = {t["type"]: t["subscribable"] for t in bank.get(f"{HOOKS}/event-types").json()}
    assert types["bank_loan.posted"] and not types["club.created"]
    assert_problem(
        as_role("service").post(HOOKS, json={**hook, "event_types": ["club.created"]}), 403
    )
    assert_problem(httpx.post(str(admin.base_url) + HOOKS, json=hook), 401)


def test_subscriptions_belong_to_their_client(
    admin: httpx.Client, as_role: Callable[..., httpx.Client]
) -> None:
    officer = as_role("officer", provinces=[LAO_CAI])
    other = as_role("officer", provinces=[HA_NOI])
    created = officer.post(
        HOOKS, json={"url": "https://province.example/hook", "event_types": ["club.created"]}
    )
    assert created.status_code == 201, created.text
    hook = created.json()
    for call in (
        other.get(f"{HOOKS}/{hook['id']}"),
        other.patch(f"{HOOKS}/{hook['id']}", json={"active": False}),
        other.get(f"{HOOKS}/{hook['id']}/deliveries"),
        other.delete(f"{HOOKS}/{hook['id']}"),
    ):
        assert_problem(call, 404)
    assert all(item["id"] != hook["id"] for item in other.get(HOOKS).json()["items"])
    assert any(item["id"] == hook["id"] for item in admin.get(HOOKS).json()["items"])
    assert officer.delete(f"{HOOKS}/{hook['id']}").status_code == 204
    assert_problem(officer.get(f"{HOOKS}/{hook['id']}"), 404)


def test_bad_subscriptions_are_refused_with_the_field(admin: httpx.Client) -> None:
    for body, field in (
        ({"url": "ftp://x.example/hook", "event_types": ["club.created"]}, "url"),
        ({"url": "https://user:pw@x.example/", "event_types": ["club.created"]}, "url"),
        # what the document's pattern excludes is refused, not taken as written (the fuzzer)
        ({"url": "https://x.example*", "event_types": ["club.created"]}, "url"),
        ({"url": "https://bộ.example/hook", "event_types": ["club.created"]}, "url"),
        ({"url": "https://x.example/a hook", "event_types": ["club.created"]}, "url"),
        ({"url": "https://x.example/K<e", "event_types": ["club.created"]}, "url"),  # no URI
        ({"url": "https://x.example/%zz", "event_types": ["club.created"]}, "url"),
        ({"url": "https://x.example/hook", "event_types": []}, "event_types"),
        ({"url": "https://x.example/hook", "event_types": ["club.eaten"]}, "event_types.0"),
    ):
        assert_problem(admin.post(HOOKS, json=body), 422, field)


# Not into the platform's own network ----------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8002/api/v1/funds",
        "http://localhost/hook",
        "https://10.1.2.3/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://db.internal/hook",
    ],
)
def test_private_addresses_are_refused_where_not_allowed(url: str) -> None:
    parts = urlsplit(url)
    with pytest.raises(PrivateAddress):
        checked_addresses(parts.hostname or "", parts.port or 443, allow_private=False)


def test_slow_lookups_of_subscribers_hosts_hold_up_nothing_else(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Under uvloop, as uvicorn runs the gateway: deliveries to hosts whose names take long to
    resolve, while the proxy connects to a service. Found in `make run` (one process serves and
    sends): webhooks to a fuzzer's made-up hosts, resolved by the event loop, held libuv's
    four resolver threads, and every proxied request answered 504 for seconds."""
    looked_up_in: set[str] = set()
    real_lookup = socket.getaddrinfo

    def slow_lookup(host: str, *args: Any, **kwargs: Any) -> Any:
        if host.endswith(".slow.example"):  # a name server that drops a burst of queries
            looked_up_in.add(threading.current_thread().name)
            time.sleep(0.5)
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return real_lookup(host, *args, **kwargs)

    monkeypatch.setattr(addresses.socket, "getaddrinfo", slow_lookup)

    async def service(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
        await writer.drain()
        writer.close()

    async def scenario() -> tuple[int, float, list[Attempt]]:
        server = await asyncio.start_server(service, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        sender = Sender(None, GatewaySettings())  # type: ignore[arg-type]  # posting needs no database
        dues = [
            Due(n, f"https://h{n}.slow.example/hook", "whsec_x", f"e{n}", "{}", 0)
            for n in range(12)
        ]
        posting = asyncio.gather(*(sender._post(due) for due in dues))
        await asyncio.sleep(0.2)
        started = time.monotonic()
        # as the proxy connects to a service
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"http://127.0.0.1:{port}/") as answer,
        ):
            status = answer.status
        elapsed = time.monotonic() - started
        attempts = await posting
        server.close()
        return status, elapsed, attempts

    status, elapsed, attempts = uvloop.run(scenario())
    assert status == 200 and elapsed < 0.5
    assert looked_up_in and all(name.startswith("webhook-dns") for name in looked_up_in)
    assert all(a.status_code is None and a.error and "resolve" in a.error for a in attempts)


def test_a_public_address_passes_and_a_post_to_a_private_one_is_not_sent() -> None:
    check_host("https://8.8.8.8/hook")  # a public address by its form (nothing is sent)
    settings = GatewaySettings(webhook_allow_private_addresses=False)
    sender = Sender(None, settings)  # type: ignore[arg-type]  # posting needs no database
    due = Due(1, "http://127.0.0.1:9/hook", "whsec_x", "event-1", "{}", 0)
    attempt = asyncio.run(sender._post(due))
    assert attempt.status_code is None and attempt.error and "not sent" in attempt.error


def test_a_partner_hears_of_its_own_pledges_and_receipts_only(
    admin: httpx.Client,
    as_role: Callable[..., httpx.Client],
    subscribe: Callable[..., tuple[dict, Inbox]],
) -> None:
    line, ours, theirs = two_funders(admin)
    partner = as_role("partner", funder_id=ours["id"])
    _, inbox = subscribe(partner, "commitment.recorded", "commitment.withdrawn", "receipt.recorded")
    pledge = {"plan_line_id": line["id"], "amount": 4_000_000, "committed_on": "2024-02-01"}
    mine = admin.post("/api/v1/commitments", json={**pledge, "funder_id": ours["id"]}).json()
    other = admin.post("/api/v1/commitments", json={**pledge, "funder_id": theirs["id"]}).json()
    received = receive(admin, ours, line, 4_000_000)
    withdrawn = partner.post(
        f"/api/v1/commitments/{mine['id']}/withdrawal", json={"reason": "twice"}
    )
    assert withdrawn.status_code == 200, withdrawn.text
    events = inbox.wait_for(f"commitment:{mine['id']}", count=2)
    assert [e["type"] for e in events] == ["commitment.recorded", "commitment.withdrawn"]
    assert events[1]["data"]["withdrawal_reason"] == "twice"
    (got,) = inbox.wait_for(f"receipt:{received['id']}")
    assert got["data"]["amount"] == 4_000_000
    assert inbox.of(f"commitment:{other['id']}") == []


def test_a_new_subscription_gets_the_events_since_the_day_it_asks_for_in_order(
    admin: httpx.Client, as_role: Callable[..., httpx.Client]
) -> None:
    line, ours, _theirs = two_funders(admin)
    receive(admin, ours, line, 50_000_000)
    partner = as_role("partner", funder_id=ours["id"])
    club = make_club(admin)
    mine = allocate(admin, ours, line, club, 5_000_000).json()
    wait_for_status(admin, mine["id"], "recorded")
    suspended = admin.post(f"/api/v1/clubs/{club['id']}/status", json={"status": "suspended"})
    assert suspended.status_code == 200, suspended.text

    today = clock.today().isoformat()
    types = ["club.created", "club.status_changed", "allocation.recorded"]
    body = {"url": "http://127.0.0.1:9/hook", "event_types": types, "backfill_from": today}
    made = partner.post(HOOKS, json=body)
    assert made.status_code == 201, made.text
    subscription = made.json()
    assert subscription["backfilling"] is True
    since = datetime.fromisoformat(subscription["backfill_from"])
    assert since == clock.start_of(clock.today())
    inbox = Inbox()
    inbox.start(subscription["secret"])
    try:
        assert partner.patch(f"{HOOKS}/{subscription['id']}", json={"url": inbox.url}).is_success
        inbox.wait_for(f"allocation:{mine['id']}")
        events = inbox.wait_for(f"club:{club['id']}", count=2)
        assert [e["type"] for e in events] == ["club.created", "club.status_changed"]
        again = admin.post(f"/api/v1/clubs/{club['id']}/status", json={"status": "active"})
        assert again.status_code == 200, again.text
        events = inbox.wait_for(f"club:{club['id']}", count=3)
        assert events[2]["data"]["status"] == "active"
        shown = partner.get(f"{HOOKS}/{subscription['id']}").json()
        assert shown["backfilling"] is False
        logged = deliveries(partner, subscription)
        assert len({d["event_id"] for d in logged}) == len(logged)  # each event once
    finally:
        partner.delete(f"{HOOKS}/{subscription['id']}")
        assert inbox.server is not None
        inbox.server.shutdown()


def test_a_backfill_from_a_day_to_come_is_refused(admin: httpx.Client) -> None:
    later = (clock.today() + timedelta(days=1)).isoformat()
    body = {"url": "http://127.0.0.1:9/hook", "event_types": ["club.created"]}
    refused = admin.post(HOOKS, json={**body, "backfill_from": later})
    assert_problem(refused, 422, "backfill_from")


def test_a_partner_follows_its_clubs_membership_counts_and_activities(
    admin: httpx.Client,
    as_role: Callable[..., httpx.Client],
    subscribe: Callable[..., tuple[dict, Inbox]],
) -> None:
    line, ours, _theirs = two_funders(admin)
    receive(admin, ours, line, 50_000_000)
    funded, other = make_club(admin), make_club(admin)
    partner = as_role("partner", funder_id=ours["id"])
    types = ("allocation.recorded", "club.membership_changed", "activity.recorded")
    subscription, inbox = subscribe(partner, *types, "activity.changed")
    mine = allocate(admin, ours, line, funded, 5_000_000).json()
    wait_for_status(admin, mine["id"], "recorded")
    inbox.wait_for(f"allocation:{mine['id']}")  # the gateway knows the club is ours
    for club in (other, funded):
        member = admin.post(f"/api/v1/clubs/{club['id']}/members", json=member_payload())
        assert member.status_code == 201, member.text
    (counted,) = inbox.wait_for(f"club:{funded['id']}")
    assert counted["type"] == "club.membership_changed"
    data = counted["data"]
    assert (data["club_id"], data["members"], data["women"], data["older"]) == (
        funded["id"], 1, 1, 1,
    )  # fmt: skip
    assert "full_name" not in data and "national_id" not in data
    activity = admin.post(
        f"/api/v1/clubs/{funded['id']}/activities",
        json={"held_on": "2024-03-05", "area": "health_care", "title": "Khám cho bà Hoa",
              "participants": 40, "notes": "Bà Nguyễn Thị Hoa, CCCD 001158000001"},
    )  # fmt: skip
    assert activity.status_code == 201, activity.text
    (recorded,) = inbox.wait_for(f"activity:{activity.json()['id']}")
    assert recorded["type"] == "activity.recorded" and recorded["data"]["area"] == "health_care"
    assert recorded["data"]["participants"] == 40
    assert "Hoa" not in str(recorded) and "001158000001" not in str(recorded)
    removed = admin.delete(f"/api/v1/clubs/{funded['id']}/activities/{activity.json()['id']}")
    assert removed.status_code == 204, removed.text
    events = inbox.wait_for(f"activity:{activity.json()['id']}", count=2)
    assert (events[1]["type"], events[1]["data"]["change"]) == ("activity.changed", "deleted")
    elsewhere = admin.post(
        f"/api/v1/clubs/{other['id']}/activities",
        json={"held_on": "2024-03-05", "area": "health_care", "title": "Khám", "participants": 4},
    )
    assert elsewhere.status_code == 201
    # Fanned out in feed order: the other club's events came before the funded club's.
    logged = {delivery["subject"] for delivery in deliveries(partner, subscription, limit=200)}
    assert f"club:{other['id']}" not in logged and f"club:{funded['id']}" in logged
