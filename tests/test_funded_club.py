"""One funded club as its funder sees it: its money, members, borrowers and activities on a
date, as counts — never a member's row, never another funder's money, 404 outside its clubs."""

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.factories import HA_NOI, LAO_CAI, make_club, member_payload
from tests.support import assert_problem
from tests.test_activities import add_activity, add_meeting
from tests.test_funding import (
    MILLION,
    allocate,
    line_of,
    make_funder,
    make_plan,
    receive,
    wait_for_status,
)
from tests.test_portfolio import RULES, bank_record, ok, post_bank

pytestmark = pytest.mark.usefixtures("stack")
ON = {"on": "2024-12-31", "from": "2024-01-01"}


def profile(client: httpx.Client, club_id: int, **params: str) -> httpx.Response:
    return client.get(f"/api/v1/funded-clubs/{club_id}", params={**ON, **params})


def lend(client: httpx.Client, club_id: int, member_id: int) -> None:
    body = {
        "club_id": club_id,
        "member_id": member_id,
        "amount": 2_000_000,
        "term_months": 12,
        "applied_on": "2024-05-10",
        "purpose": "Buy a calf",
        "form": "cash",
    }
    loan = ok(client.post("/api/v1/loans", json=body), 201)
    ok(client.post(f"/api/v1/loans/{loan['id']}/approve"))
    ok(client.post(f"/api/v1/loans/{loan['id']}/disburse", json={"disbursed_on": "2024-05-15"}))


@pytest.fixture(scope="module")
def funded_club(admin: httpx.Client, as_role: Callable[..., httpx.Client]) -> dict[str, Any]:
    """A Lào Cai club funded by two funders (10 M and 5 M), with three members: an older woman
    who borrowed from the club's fund, an older woman who borrows from the bank, a younger man;
    two activities and a meeting in 2024."""
    plan = make_plan(admin)
    line = line_of(plan, "seed_capital")
    ours, theirs = make_funder(admin, "ngo"), make_funder(admin)
    receive(admin, ours, line, 10 * MILLION)
    receive(admin, theirs, line, 5 * MILLION)
    club = make_club(admin)
    members = [
        ok(admin.post(f"/api/v1/clubs/{club['id']}/members", json=payload), 201)
        for payload in (
            member_payload(),
            member_payload(),
            member_payload(gender="male", birth_date="1990-06-01", household_status="none"),
        )
    ]
    for funder, amount in ((ours, 10 * MILLION), (theirs, 5 * MILLION)):
        allocation = ok(allocate(admin, funder, line, club, amount), 201)
        wait_for_status(admin, allocation["id"], "recorded")
    funds = ok(admin.get("/api/v1/funds", params={"club_id": club["id"]}))["items"]
    fund = next(f for f in funds if f["kind"] == "income_generation")
    ok(admin.put(f"/api/v1/funds/{fund['id']}/loan-rules", json=RULES), 201)
    lend(admin, club["id"], members[0]["id"])
    post_bank(as_role("bank", bank_code="VBSP"), bank_record(members[1]["national_id"]))
    add_activity(admin, club, area="income_generation", held_on="2024-06-01")
    add_activity(admin, club, area="health_care", held_on="2024-07-01")
    add_activity(admin, club, area="health_care", held_on="2023-07-01")  # before the period
    add_meeting(admin, club, held_on="2024-06-15")
    return {"club": club, "members": members, "ours": ours, "theirs": theirs, "plan": plan}


def test_a_partner_sees_its_money_and_the_club_s_figures_as_counts(
    funded_club: dict[str, Any], as_role: Callable[..., httpx.Client]
) -> None:
    club = funded_club["club"]
    partner = as_role("partner", funder_id=funded_club["ours"]["id"])
    answer = ok(profile(partner, club["id"]))
    assert answer["missing"] == [] and (answer["on"], answer["period_from"]) == (
        "2024-12-31",
        "2024-01-01",
    )
    money = answer["club"]
    assert (money["club_id"], money["club_name"], money["province_code"]) == (
        club["id"],
        club["name"],
        LAO_CAI,
    )
    assert money["amount"] == 10 * MILLION and money["other_funders"] == 1
    assert [share["funder_id"] for share in money["funders"]] == [funded_club["ours"]["id"]]
    members = answer["members"]
    assert (members["members"], members["women"], members["older"], members["younger"]) == (
        3,
        2,
        2,
        1,
    )
    assert members["women_pct"] == 66.7 and members["priority"] == 2
    assert answer["borrowing"] == {
        "members_with_club_loan": 1,
        "members_with_bank_loan": 1,
        "members_with_loan": 2,
        "share_pct": 66.7,
    }
    activities = answer["activities"]
    assert activities["by_area"]["income_generation"] == 1
    assert activities["by_area"]["health_care"] == 1 and activities["held"] == 2
    assert activities["meetings_held"] == 1 and activities["all_eight_areas"] is False
    text = profile(partner, club["id"]).text
    for member in funded_club["members"]:
        assert member["national_id"] not in text and member["full_name"] not in text
    assert "fund_capital" not in text and "outstanding" not in text


def test_earlier_dates_count_what_was_true_then(
    funded_club: dict[str, Any], as_role: Callable[..., httpx.Client]
) -> None:
    partner = as_role("partner", funder_id=funded_club["ours"]["id"])
    answer = ok(
        profile(partner, funded_club["club"]["id"], on="2024-03-31", **{"from": "2023-01-01"})
    )
    assert answer["borrowing"]["members_with_club_loan"] == 0  # lent in May
    assert answer["activities"]["held"] == 1 and answer["activities"]["meetings_held"] == 0


def test_outside_its_funded_clubs_a_partner_gets_404_alike(
    funded_club: dict[str, Any], admin: httpx.Client, as_role: Callable[..., httpx.Client]
) -> None:
    partner = as_role("partner", funder_id=funded_club["ours"]["id"])
    unfunded = make_club(admin)
    other = assert_problem(profile(partner, unfunded["id"]), 404)
    missing = assert_problem(profile(partner, 999_999_999), 404)
    assert (other["code"], other["title"]) == (missing["code"], missing["title"])
    theirs = as_role("partner", funder_id=funded_club["theirs"]["id"])
    assert ok(profile(theirs, funded_club["club"]["id"]))["club"]["amount"] == 5 * MILLION


def test_officers_see_every_funder_in_their_area_and_others_are_refused(
    funded_club: dict[str, Any], as_role: Callable[..., httpx.Client]
) -> None:
    club_id = funded_club["club"]["id"]
    officer = as_role("officer", provinces=[LAO_CAI])
    answer = ok(profile(officer, club_id))
    assert answer["club"]["amount"] == 15 * MILLION and answer["club"]["other_funders"] == 0
    assert_problem(profile(as_role("officer", provinces=[HA_NOI]), club_id), 404)
    assert_problem(profile(as_role("club_manager", clubs=[club_id]), club_id), 403)
    assert_problem(profile(as_role("bank", bank_code="VBSP"), club_id), 403)
    assert_problem(profile(officer, club_id, on="2024-01-01", **{"from": "2024-06-01"}), 422)


def test_unknown_parameters_are_refused(
    funded_club: dict[str, Any], as_role: Callable[..., httpx.Client]
) -> None:
    partner = as_role("partner", funder_id=funded_club["ours"]["id"])
    response = partner.get(
        f"/api/v1/funded-clubs/{funded_club['club']['id']}", params={"member_id": "1"}
    )
    assert_problem(response, 422)
