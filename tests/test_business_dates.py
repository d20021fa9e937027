"""Business dates are Vietnam's: at 06:30 in Hà Nội the server's UTC calendar still says yesterday.

A platform of its own runs with its clock at 23:30 UTC on 5 December 2026 (06:30 on 6 December
in Hà Nội). A club board records what happened that morning, dated 6 December, and everything
that says "today" answers 6 December; 7 December is still the future. The platform's first admin
has another name than `admin` (`ISHC_ADMIN_USERNAME`), as a province may configure it, and
`make run`'s demo loader logs in with it.
"""

import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from common import clock
from tests.conftest import ADMIN_PASSWORD, _database_urls, _stack
from tests.factories import consents
from tests.support import Api, assert_problem
from tests.test_activities import meeting_payload
from tests.test_bank_loans import post, record
from tests.test_events import Feeds
from tests.test_loans import act, approved_loan, loan_on, make_lending_club, repay
from tools.demo import Demo
from tools.stack import Stack

ADMIN = "quan-tri"
MOMENT = datetime(2026, 12, 5, 23, 30, tzinfo=UTC)
VIETNAM_DAY = date(2026, 12, 6)
NEXT_DAY = VIETNAM_DAY + timedelta(days=1)
DISBURSED_ON = date(2026, 9, 5)
"""Monthly instalments fall due on 5 October, 5 November and 5 December."""


@pytest.fixture(scope="module")
def early_morning(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp: Path = tmp_path_factory.mktemp("early-morning")
    shift = MOMENT.timestamp() - time.time()
    launcher = [sys.executable, "-m", "tests.clock_travel", str(shift)]
    settings = {"ISHC_ADMIN_USERNAME": ADMIN, clock.TIME_ZONE_SETTING: clock.DEFAULT_TIME_ZONE}
    for urls in _database_urls(tmp, "early"):
        yield from _stack(tmp, urls, extra_env=settings, launcher=launcher)


@pytest.fixture(scope="module")
def api(early_morning: Stack) -> Api:
    return Api(early_morning.gateway_url, ADMIN_PASSWORD, admin_username=ADMIN)


@pytest.fixture(scope="module")
def admin(api: Api) -> Iterator[httpx.Client]:
    with api.client(api.admin_token) as client:
        yield client


@pytest.fixture(scope="module")
def club(admin: httpx.Client) -> dict:
    return make_lending_club(admin)


def test_the_moment_is_the_vietnamese_morning_of_the_next_day(vietnam_calendar: None) -> None:
    assert clock.business_date(MOMENT) == VIETNAM_DAY
    assert MOMENT.date() == VIETNAM_DAY - timedelta(days=1)
    assert clock.start_of(VIETNAM_DAY) == datetime(2026, 12, 5, 17, tzinfo=UTC)


def test_a_meeting_held_this_morning_is_recorded(admin: httpx.Client, club: dict) -> None:
    meetings = f"/api/v1/clubs/{club['id']}/meetings"
    held = admin.post(meetings, json=meeting_payload(held_on=VIETNAM_DAY.isoformat()))
    assert held.status_code == 201, held.text
    tomorrow = admin.post(meetings, json=meeting_payload(held_on=NEXT_DAY.isoformat()))
    assert assert_problem(tomorrow, 422, "held_on")["errors"][0]["reason"] == "is in the future"


def test_a_contribution_made_this_morning_is_recorded(admin: httpx.Client, club: dict) -> None:
    capital = f"/api/v1/funds/{club['fund_id']}/capital"
    body = {"amount": 200_000, "origin": "member_contribution", "reference": "monthly meeting"}
    made = admin.post(capital, json={**body, "occurred_on": VIETNAM_DAY.isoformat()})
    assert made.status_code == 201, made.text
    assert made.json()["occurred_on"] == VIETNAM_DAY.isoformat()
    tomorrow = admin.post(capital, json={**body, "occurred_on": NEXT_DAY.isoformat()})
    assert_problem(tomorrow, 422, "occurred_on")


def test_a_member_who_joins_this_morning_joins_today(admin: httpx.Client, club: dict) -> None:
    member = admin.post(
        f"/api/v1/clubs/{club['id']}/members",
        json={"full_name": "Lò Thị Mai", "gender": "female", "birth_year": 1960,
              "household_status": "near_poor",
              "consents": consents("membership", given_on=VIETNAM_DAY.isoformat())},
    )  # fmt: skip
    assert member.status_code == 201, member.text
    assert member.json()["joined_on"] == VIETNAM_DAY.isoformat()


def test_a_repayment_this_morning_is_recorded_and_arrears_count_vietnams_days(
    api: Api, admin: httpx.Client, club: dict, early_morning: Stack
) -> None:
    loan = approved_loan(admin, club, applied_on="2026-09-01", term_months=3)
    disbursed = act(admin, loan["id"], "disburse", disbursed_on=DISBURSED_ON.isoformat())
    assert disbursed.status_code == 200, disbursed.text

    today = loan_on(admin, loan["id"])
    assert today["on"] == VIETNAM_DAY.isoformat()
    assert today["days_past_due"] == (VIETNAM_DAY - date(2026, 10, 5)).days
    # The third instalment fell due on 5 December: overdue in Vietnam since midnight.
    feeds = Feeds(early_morning, api.token_for("service"))
    overdue = feeds.wait("loans", f"loan:{loan['id']}", "loan.overdue", count=3)
    assert [event["data"]["instalment"] for event in overdue] == [1, 2, 3]

    paid = repay(admin, loan["id"], 100_000, VIETNAM_DAY.isoformat())
    assert paid.status_code == 201, paid.text
    assert_problem(repay(admin, loan["id"], 100_000, NEXT_DAY.isoformat()), 422, "paid_on")

    portfolio = admin.get("/api/v1/loans/portfolio", params={"club_id": club["id"]})
    assert portfolio.status_code == 200, portfolio.text
    assert portfolio.json()["on"] == VIETNAM_DAY.isoformat()


def test_the_banks_figures_as_of_this_morning_are_taken(api: Api) -> None:
    with api.client(api.token_for("bank")) as bank:
        taken = post(bank, record(as_of=VIETNAM_DAY.isoformat()))
        assert taken.status_code in (200, 201), taken.text
        assert_problem(post(bank, record(as_of=NEXT_DAY.isoformat())), 422, "as_of")


def test_composition_and_board_are_of_vietnams_today(admin: httpx.Client, club: dict) -> None:
    composition = admin.get(f"/api/v1/clubs/{club['id']}/composition")
    assert composition.status_code == 200, composition.text
    assert composition.json()["on"] == VIETNAM_DAY.isoformat()
    board = admin.get(f"/api/v1/clubs/{club['id']}/board")
    assert board.status_code == 200, board.text
    assert board.json()["on"] == VIETNAM_DAY.isoformat()


def test_the_platform_clock_ticks_from_the_moment(early_morning: Stack) -> None:
    """The travelled clock still moves, so tokens, leases and timeouts behave as in production."""
    first = httpx.get(early_morning.gateway_url + "/healthz").headers.get("date")
    time.sleep(1.1)
    second = httpx.get(early_morning.gateway_url + "/healthz").headers.get("date")
    assert first and second and first != second
    assert "05 Dec 2026 23:" in first


def test_the_demo_loader_logs_in_as_the_configured_admin(
    early_morning: Stack, tmp_path: Path
) -> None:
    demo = Demo(early_morning.gateway_url, ADMIN, ADMIN_PASSWORD, tmp_path)
    assert demo.client.get("/auth/me").json()["subject"] == f"user:{ADMIN}"
