"""Programme indicators through the gateway: a small world of one funder's clubs in Lào Cai,
counted exactly; targets of the programme and the province plan; scope; exports; a service down.

The platform is shared by the whole session, so exact figures are asked for this world's
funder (its clubs only); the province report is checked for the plan's targets and verdicts.
"""

import asyncio
import csv
import io
import random
import secrets
import time
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook

from common import clock
from common.service_client import ServiceClient, ServiceTokens
from services.clubs.domain import ActivityArea
from services.funding.indicators.sources import Ask, IndicatorSources
from tests.factories import HA_NOI, LAO_CAI, make_club, member_payload
from tests.support import assert_problem, settle_events
from tests.test_funding import line_of, make_funder, make_plan, wait_for_status
from tools.demo_funding import lao_cai_2018_plan
from tools.stack import FACTORIES, Stack, free_port

REPORT = "/api/v1/reports/indicators"
MILLION = 1_000_000
TODAY = clock.today()
START = TODAY - timedelta(days=200)
AREAS = tuple(area.value for area in ActivityArea)


def day(days_ago: int) -> str:
    return (TODAY - timedelta(days=days_ago)).isoformat()


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def by_name(report: dict) -> dict[str, dict]:
    return {f"{item['section']}.{item['name']}": item for item in report["indicators"]}


def _member(admin: httpx.Client, club: dict, **overrides: Any) -> int:
    body = member_payload(joined_on=day(185), **overrides)
    return ok(admin.post(f"/api/v1/clubs/{club['id']}/members", json=body), 201)["id"]


def _allocate(admin: httpx.Client, funder: dict, line: dict, club: dict, amount: int) -> None:
    body = {
        "funder_id": funder["id"],
        "plan_line_id": line["id"],
        "club_id": club["id"],
        "amount": amount,
        "allocated_on": day(170),
        "reference": "seed capital",
    }
    allocation = ok(admin.post("/api/v1/allocations", json=body), 201)
    wait_for_status(admin, allocation["id"], "recorded")


def _plan(admin: httpx.Client) -> dict:
    payload = {**lao_cai_2018_plan("1648"), "start_year": TODAY.year}
    plan = ok(admin.post("/api/v1/plans", json=payload), 201)
    return ok(admin.post(f"/api/v1/plans/{plan['id']}/approve"))


def _lend(admin: httpx.Client, club: dict, member_id: int) -> None:
    funds = ok(admin.get("/api/v1/funds", params={"club_id": club["id"]}))["items"]
    fund = next(f for f in funds if f["kind"] == "income_generation")
    rules = {
        "monthly_interest_rate": 1,
        "interest_method": "flat",
        "repayment_frequency": "monthly",
        "max_term_months": 12,
        "max_amount": 20 * MILLION,
    }
    ok(admin.put(f"/api/v1/funds/{fund['id']}/loan-rules", json=rules), 201)
    application = {
        "club_id": club["id"],
        "member_id": member_id,
        "amount": 3 * MILLION,
        "applied_on": day(160),
        "purpose": "Buy two piglets",
        "form": "cash",
        "term_months": 6,
    }
    loan = ok(admin.post("/api/v1/loans", json=application), 201)
    ok(admin.post(f"/api/v1/loans/{loan['id']}/approve"))
    ok(admin.post(f"/api/v1/loans/{loan['id']}/disburse", json={"disbursed_on": day(150)}))


@pytest.fixture(scope="module")
def world(admin: httpx.Client, stack: Stack, token_for: Callable[..., str]) -> dict[str, Any]:
    """One funder's four Lào Cai clubs: A and B founded in the period, C before it (still
    active), D before it and dissolved in it. A runs all eight areas, has both funds, meets
    its profile and lent 3 million to a member who has not paid the first instalment."""
    profile = ok(
        admin.post(
            "/api/v1/quota-profiles",
            json={
                "code": f"ind-{secrets.token_hex(3)}",
                "name": "Small test clubs",
                "min_members": 1,
                "max_members": 10,
                "older_min_pct": 50,
                "older_age": 60,
            },
        ),
        201,
    )
    plan = _plan(admin)
    seed = next(line for line in plan["lines"] if line["activity"] == "seed_capital")
    funder = make_funder(admin, "elderly_care_fund")

    def club(founded: int) -> dict:
        return make_club(admin, founding_decision_date=day(founded), quota_profile_id=profile["id"])

    a, b, c, d = club(190), club(190), club(400), club(400)
    receipt = {
        "funder_id": funder["id"],
        "plan_line_id": seed["id"],
        "amount": 40 * MILLION,
        "received_on": day(180),
    }
    ok(admin.post("/api/v1/receipts", json=receipt), 201)
    for target, amount in ((a, 20), (b, 10), (c, 5), (d, 5)):
        _allocate(admin, funder, seed, target, amount * MILLION)
    borrower = _member(admin, a, gender="female", birth_date="1950-02-01", home_care_volunteer=True)
    _member(admin, a, gender="female", birth_date="1955-06-01", household_status="near_poor")
    _member(admin, a, gender="male", birth_date="1990-06-01", household_status="none")
    _member(admin, b, gender="female", birth_date="1985-06-01")
    _member(admin, b, gender="male", birth_date="1980-06-01", household_status="none")
    for area in AREAS:
        activity = {"held_on": day(100), "area": area, "title": f"Tháng {area}"}
        ok(admin.post(f"/api/v1/clubs/{a['id']}/activities", json=activity), 201)
    activity = {"held_on": day(100), "area": "health_care", "title": "Khám sức khỏe"}
    ok(admin.post(f"/api/v1/clubs/{b['id']}/activities", json=activity), 201)
    meeting = {"held_on": day(90), "topics": ["Quỹ"], "attending_member_ids": [borrower]}
    ok(admin.post(f"/api/v1/clubs/{a['id']}/meetings", json=meeting), 201)
    opened = admin.post("/api/v1/funds", json={"club_id": a["id"], "kind": "activity"})
    assert opened.status_code in (200, 201), opened.text  # 200: opened by the club's activation
    activity_fund = opened.json()
    capital = {
        "amount": 5 * MILLION,
        "occurred_on": day(170),
        "origin": "member_contribution",
        "reference": "members",
    }
    ok(admin.post(f"/api/v1/funds/{activity_fund['id']}/capital", json=capital), 201)
    _lend(admin, a, borrower)
    ok(admin.post(f"/api/v1/clubs/{d['id']}/status", json={"status": "dissolved"}))
    # The loans service learns of D's dissolution from the clubs service's events.
    settle_events({c: stack.url(c) for c in FACTORIES}, token_for("service"))
    return {"funder": funder, "plan": plan, "clubs": [a, b, c, d]}


def funder_report(client: httpx.Client, funder_id: int | None, **params: Any) -> dict:
    query = {"from": START.isoformat(), "to": TODAY.isoformat(), **params}
    if funder_id is not None:
        query["funder_id"] = funder_id
    return ok(client.get(REPORT, params=query))


EXPECTED = {
    # name: (value, share %, target, met)
    "clubs.total": (4, None, None, None),
    "clubs.active": (3, None, None, None),
    "clubs.founded_in_period": (2, None, None, None),
    "clubs.maintained": (1, None, None, None),
    "clubs.dissolved_in_period": (1, None, None, None),
    "members.total": (5, None, None, None),
    "members.older": (2, 40.0, None, None),
    "members.women": (3, 60.0, None, None),
    "members.poor_near_poor_disadvantaged": (3, 60.0, None, None),
    "members.clubs_meeting_profile": (1, 33.3, None, None),
    "activities.clubs_running_all_eight": (1, 33.3, 70, False),
    "activities.meetings_held": (1, None, None, None),
    "activities.home_care_volunteers": (1, None, None, None),
    # Every active club got both funds when it was activated; D's are left out (dissolved).
    "money.clubs_with_both_funds": (3, 100.0, 100, True),
    "money.fund_capital": (45 * MILLION, None, None, None),
    "money.member_loans_outstanding": (3 * MILLION, None, None, None),
    "money.par30": (3 * MILLION, 100.0, None, None),
    "money.members_with_loan": (1, 20.0, 50, False),
    "funding.planned.elderly_care_fund": (320 * MILLION, None, None, None),
    "funding.received.elderly_care_fund": (40 * MILLION, 12.5, None, None),
    "funding.allocated.elderly_care_fund": (40 * MILLION, 12.5, None, None),
}


def figures_of(report: dict) -> dict[str, tuple]:
    """The report's figures that EXPECTED names (those it has)."""
    rows = by_name(report)
    return {
        name: (
            rows[name]["value"],
            rows[name]["share_pct"],
            rows[name]["target"],
            rows[name]["met"],
        )
        for name in EXPECTED
        if name in rows
    }


def test_a_funders_clubs_are_counted_exactly_against_the_programme(
    world: dict, admin: httpx.Client
) -> None:
    report = funder_report(admin, world["funder"]["id"])
    assert report["missing"] == [] and report["funder_id"] == world["funder"]["id"]
    assert report["programme_code"] == "1648"
    assert figures_of(report) == EXPECTED
    borrowing = by_name(report)["money.members_with_loan"]
    assert borrowing["target_unit"] == "percent" and borrowing["target_source"] == "programme 1648"


def test_one_day_counts_what_happened_that_day(world: dict, admin: httpx.Client) -> None:
    rows = by_name(
        ok(admin.get(REPORT, params={"funder_id": world["funder"]["id"], "on": day(100)}))
    )
    assert rows["activities.clubs_running_all_eight"]["value"] == 1
    assert rows["clubs.founded_in_period"]["value"] == 0
    assert rows["activities.meetings_held"]["value"] == 0


def test_the_province_report_sets_the_plans_targets_beside_its_figures(
    world: dict, admin: httpx.Client, as_role: Callable[..., httpx.Client]
) -> None:
    officer = as_role("officer", provinces=[LAO_CAI])
    for client in (admin, officer):
        report = ok(client.get(REPORT, params={"province": LAO_CAI}))
        assert report["province_code"] == LAO_CAI and report["plans"] == 1
        rows = by_name(report)
        for name, target in (
            ("clubs.founded_in_period", 16),
            ("members.total", 2000),
            ("members.older", 700),
        ):
            row = rows[name]
            assert (row["target"], row["target_unit"], row["target_source"]) == (
                target,
                "count",
                "plan",
            )
            assert row["met"] is (row["value"] >= target)
        assert rows["clubs.total"]["value"] >= 4
        # Clubs are compared with what the plan asks in all: 16 to found, none to maintain.
        assert (rows["clubs.active"]["target"], rows["clubs.active"]["target_source"]) == (
            16,
            "plan",
        )


def test_the_officer_and_the_partner_see_the_funders_clubs_alike(
    world: dict, admin: httpx.Client, as_role: Callable[..., httpx.Client]
) -> None:
    funder_id = world["funder"]["id"]
    officer = as_role("officer", provinces=[LAO_CAI])
    partner = as_role("partner", funder_id=funder_id)
    assert figures_of(funder_report(officer, funder_id)) == EXPECTED
    own = funder_report(partner, None)
    # The clubs' fund capital and loans hold other funders' money too: a partner gets none of
    # those amounts (subtracting its own would tell what the others gave), only its own money.
    amounts = {"money.fund_capital", "money.member_loans_outstanding", "money.par30"}
    partners = {name: row for name, row in EXPECTED.items() if name not in amounts}
    assert own["funder_id"] == funder_id and figures_of(own) == partners
    # Counts and shares only: nothing about a person.
    assert not {"full_name", "national_id", "member_id", "birth_date"} & set(
        str(own).replace("'", " ").split()
    )


def test_scope_is_refused_as_everywhere(
    world: dict, admin: httpx.Client, as_role: Callable[..., httpx.Client]
) -> None:
    other_funder = make_funder(admin, "enterprise")
    partner = as_role("partner", funder_id=world["funder"]["id"])
    assert_problem(partner.get(REPORT, params={"funder_id": other_funder["id"]}), 404)
    officer = as_role("officer", provinces=[HA_NOI])
    assert_problem(officer.get(REPORT, params={"province": LAO_CAI}), 404)
    assert_problem(admin.get(REPORT, params={"funder_id": 2_000_000_000}), 404)
    assert_problem(as_role("club_manager", clubs=[world["clubs"][0]["id"]]).get(REPORT), 403)
    assert_problem(as_role("bank").get(REPORT), 403)
    # Partners never reach the registry's aggregate itself.
    body = {"from": START.isoformat(), "to": TODAY.isoformat()}
    assert_problem(partner.post("/api/v1/clubs/indicators", json=body), 403)
    assert_problem(admin.get(REPORT, params={"on": day(1), "from": day(2)}), 422, "on")
    assert_problem(admin.get(REPORT, params={"from": day(1), "to": day(2)}), 422, "from")
    assert_problem(admin.get(REPORT, params={"programme": "9999"}), 422, "programme")


def test_the_report_exports_one_row_per_indicator(world: dict, admin: httpx.Client) -> None:
    params = {
        "funder_id": world["funder"]["id"],
        "from": START.isoformat(),
        "to": TODAY.isoformat(),
    }
    answer = admin.get(REPORT, params={**params, "format": "csv"})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(answer.content.decode("utf-8-sig"))))
    assert rows[0] == ["section", "indicator", "value", "share %", "target", "met"]
    assert ["money", "members_with_loan", "1", "20.0", "≥ 50 % (programme 1648)", "not met"] in rows
    assert len(rows) == 1 + len(
        funder_report(admin, **{"funder_id": params["funder_id"]})["indicators"]
    )
    answer = admin.get(REPORT, params={**params, "format": "xlsx"})
    assert answer.status_code == 200
    sheet = load_workbook(io.BytesIO(answer.content)).active
    values = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert values[1] == ["section", "indicator", "value", "share %", "target", "met"]
    assert ["clubs", "maintained", 1, None, None, None] in values
    assert ["money", "fund_capital", 45 * MILLION, None, None, None] in values


def test_without_the_loans_service_the_report_names_the_missing_money(
    world: dict, stack: Stack, admin: httpx.Client
) -> None:
    stack.stop_one("loans")
    try:
        report = funder_report(admin, world["funder"]["id"])
    finally:
        stack.start(["loans"], log_dir=stack.var_dir / "logs")
    assert report["missing"] == ["money"]
    rows = by_name(report)
    assert rows["money.members_with_loan"]["value"] is None
    assert rows["money.members_with_loan"]["met"] is None
    assert rows["members.total"]["value"] == 5
    assert rows["funding.allocated.elderly_care_fund"]["value"] == 40 * MILLION


def test_a_service_slower_than_the_reports_deadline_costs_its_sections_not_the_report() -> None:
    """The funding service stops waiting for a service's figures at its own deadline, before
    the gateway would stop waiting for the report (a 504), and names the sections missing."""

    async def never_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(30)
        writer.close()

    async def ask_a_hanging_service() -> tuple[Any, Any, float]:
        server = await asyncio.start_server(never_answer, "127.0.0.1", 0)
        url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        tokens = ServiceTokens(f"http://127.0.0.1:{free_port()}", "svc-funding", "secret")
        hanging = ServiceClient("loans", url, tokens, timeout=30)
        sources = IndicatorSources(hanging, hanging, timeout=0.3)
        ask = Ask(province=None, club_ids=None, token="the caller's token")
        started = time.monotonic()
        deadline = sources.deadline(started)
        clubs, money = await asyncio.gather(
            sources.club_figures(ask, START, TODAY, deadline),
            sources.money_figures(ask, TODAY, deadline),
        )
        waited = time.monotonic() - started
        await hanging.close()
        server.close()
        return clubs, money, waited

    clubs, money, waited = asyncio.run(ask_a_hanging_service())
    assert clubs is None and money is None
    assert waited < 2


def test_money_rows_count_what_is_dated_in_the_period_under_every_plan(
    admin: httpx.Client,
) -> None:
    """Received and allocated are the money dated in the window asked for, from every plan,
    the same as the sums of the underlying rows on random windows."""
    funder = make_funder(admin)
    plans = [make_plan(admin), make_plan(admin)]
    dated = ["2024-02-01", "2024-05-01", "2024-09-01", "2025-01-15"]
    for index, day_of in enumerate(dated):
        line = line_of(plans[index % 2], "seed_capital")
        body = {"funder_id": funder["id"], "plan_line_id": line["id"],
                "amount": (index + 1) * MILLION, "received_on": day_of}  # fmt: skip
        assert admin.post("/api/v1/receipts", json=body).status_code == 201
    chance = random.Random(7)
    for _ in range(5):
        start = date(2024, 1, 1) + timedelta(days=chance.randrange(0, 400))
        end = start + timedelta(days=chance.randrange(0, 300))
        window = {"from": start.isoformat(), "to": min(end, TODAY).isoformat()}
        asked = {**window, "funder_id": funder["id"]}
        rows = admin.get("/api/v1/receipts", params={**asked, "limit": 1000}).json()["items"]
        expected = sum(item["amount"] for item in rows)
        report = admin.get(REPORT, params=asked).json()
        received = by_name(report).get("funding.received.elderly_care_fund")
        assert (received["value"] if received else 0) == expected, window
