"""Events put aside after failing to apply: listed and replayed by admins through the gateway.

How an event gets there is tested in tests/test_events.py (a consumer on a database of its own);
here the loans service holds two dead letters of the clubs' feed, as a consumer would have put
them aside: a real `club.created` event, which applies once replayed, and one whose data the
handler cannot read, which fails again and writes nothing.
"""

import uuid
from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy import insert, select

from common.clock import utcnow
from common.db import make_engine, normalise_url
from services.loans.models import consumer_tables
from tests.factories import make_club
from tests.support import assert_problem
from tests.test_events import Feeds
from tools.stack import Stack

LETTERS = "/api/v1/dead-letters"


def waiting_in_metrics(stack: Stack) -> float:
    """The loans service's `ishc_dead_letters` of the clubs' feed."""
    metrics = httpx.get(stack.url("loans") + "/metrics").text
    line = next(line for line in metrics.splitlines() if line.startswith("ishc_dead_letters{"))
    assert 'source="clubs"' in line, line
    return float(line.split()[-1])


def _put_aside(stack: Stack, event: dict[str, Any]) -> int:
    engine = make_engine(normalise_url(stack.database_urls["loans"]))
    table = consumer_tables.dead_letters
    try:
        with engine.begin() as connection:
            connection.execute(
                insert(table).values(
                    source="clubs",
                    event_id=event["id"],
                    position=event["position"],
                    type=event["type"],
                    subject=event["subject"],
                    event=event,
                    error="ValueError: as the test put it",
                    attempts=5,
                    failed_at=utcnow(),
                )
            )
            return int(
                connection.execute(
                    select(table.c.id).where(table.c.event_id == event["id"])
                ).scalar_one()
            )
    finally:
        engine.dispose()


def test_an_admin_sees_and_replays_the_events_put_aside(
    stack: Stack, admin: httpx.Client, token_for: Callable[..., str]
) -> None:
    club = make_club(admin)
    feeds = Feeds(stack, token_for("service"))
    (created,) = feeds.wait("clubs", f"club:{club['id']}", "club.created")
    good = _put_aside(stack, {**created, "id": str(uuid.uuid4())})
    unreadable = {**created, "id": str(uuid.uuid4()), "data": {"club_id": club["id"]}}
    bad = _put_aside(stack, unreadable)

    counts = admin.get(LETTERS)
    assert counts.status_code == 200, counts.text
    assert set(counts.json()) == {"gateway", "loans"}
    assert counts.json()["loans"]["waiting"] >= 2
    listed = admin.get(f"{LETTERS}/loans", params={"limit": 50})
    assert listed.status_code == 200, listed.text
    by_id = {item["id"]: item for item in listed.json()["items"]}
    assert {good, bad} <= set(by_id)
    assert by_id[good]["type"] == "club.created"
    assert by_id[good]["subject"] == f"club:{club['id']}"
    assert waiting_in_metrics(stack) >= 2

    failing = assert_problem(admin.post(f"{LETTERS}/loans/{bad}/replay"), 409)
    assert failing["code"] == "dead_letter_still_failing"
    assert "KeyError" in failing["detail"]
    replayed = admin.post(f"{LETTERS}/loans/{good}/replay")
    assert replayed.status_code == 200, replayed.text
    assert replayed.json()["replayed_by"] and replayed.json()["replayed_at"]
    again = assert_problem(admin.post(f"{LETTERS}/loans/{good}/replay"), 409)
    assert again["code"] == "dead_letter_replayed"

    def ids(**params: str) -> set[int]:
        answer = admin.get(f"{LETTERS}/loans", params=params)
        return {item["id"] for item in answer.json()["items"]}

    waiting, everything = ids(), ids(waiting="false")
    assert bad in waiting and good not in waiting
    assert {good, bad} <= everything


def test_only_admins_reach_the_dead_letters(
    admin: httpx.Client, as_role: Callable[..., httpx.Client]
) -> None:
    officer = as_role("officer", provinces=["15"])
    assert_problem(officer.get(LETTERS), 403)
    assert_problem(officer.get(f"{LETTERS}/loans"), 403)
    assert_problem(officer.post(f"{LETTERS}/gateway/1/replay"), 403)
    assert_problem(admin.get(f"{LETTERS}/clubs"), 422, field="component")
    assert_problem(admin.post(f"{LETTERS}/gateway/999999/replay"), 404)
    assert_problem(admin.post(f"{LETTERS}/loans/999999/replay"), 404)
    assert admin.get(f"{LETTERS}/gateway").status_code == 200
