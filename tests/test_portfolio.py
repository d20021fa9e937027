"""Portfolio figures for a date: outstanding principal, PAR30, repayment rate, borrowers and the
"≥ 50 % can borrow" indicator, per club, per province and nationally, within the caller's scope.

The figures are checked on a province no other test writes to (Đà Nẵng), so its sums are exact.
"""

import uuid
from collections.abc import Callable
from datetime import date
from typing import Any

import httpx
import pytest

from services.loans.lending.rules import Instalment
from services.loans.portfolio.standing import late_from
from tests.factories import LAO_CAI, make_club, member_payload
from tests.support import assert_problem

DA_NANG = "48"
PORTFOLIO = "/api/v1/loans/portfolio"
RULES = {
    "monthly_interest_rate": 1,
    "interest_method": "flat",
    "repayment_frequency": "monthly",
    "max_term_months": 12,
    "max_amount": 20_000_000,
}


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def lend(client: httpx.Client, club_id: int, member_id: int, amount: int, term: int) -> int:
    loan = ok(
        client.post(
            "/api/v1/loans",
            json={
                "club_id": club_id,
                "member_id": member_id,
                "amount": amount,
                "term_months": term,
                "applied_on": "2024-01-10",
                "purpose": "Buy piglets",
                "form": "cash",
            },
        ),
        201,
    )
    ok(client.post(f"/api/v1/loans/{loan['id']}/approve"))
    ok(client.post(f"/api/v1/loans/{loan['id']}/disburse", json={"disbursed_on": "2024-01-15"}))
    return loan["id"]


def repay(client: httpx.Client, loan_id: int, amount: int, paid_on: str) -> None:
    body = {"amount": amount, "paid_on": paid_on, "reference": "monthly meeting"}
    ok(client.post(f"/api/v1/loans/{loan_id}/repayments", json=body), 201)


def bank_record(national_id: str, **overrides: Any) -> dict[str, Any]:
    return {
        "loan_number": f"DN-{uuid.uuid4().hex[:10]}",
        "borrower_national_id": national_id,
        "borrower_name": "Trần Thị Lan",
        "programme": "poor_households",
        "principal": 30_000_000,
        "disbursed_on": "2023-06-01",
        "maturity_on": "2028-06-01",
        "annual_interest_rate": 6.6,
        "outstanding_principal": 10_000_000,
        "overdue_amount": 0,
        "status": "active",
        "as_of": "2024-03-31",
        **overrides,
    }


def post_bank(client: httpx.Client, record: dict[str, Any]) -> None:
    headers = {"Idempotency-Key": str(uuid.uuid4())}
    response = client.post("/api/v1/bank-loans", json=record, headers=headers)
    assert response.status_code in (200, 201), response.text


@pytest.fixture(scope="module")
def da_nang(admin: httpx.Client, as_role: Callable[..., httpx.Client]) -> dict[str, Any]:
    """A Đà Nẵng club of four members: two club loans (one repaid, one late) and bank loans.

    Loan A: 6,000,000 over 6 months (1,060,000 a month, flat 1 %), only the first instalment
    paid. Loan B: 3,000,000 over 3 months (1,030,000 a month), repaid on time and closed on
    15 April 2024. The bank lends to the borrower of A and to a third member.
    """
    communes = ok(admin.get(f"/api/v1/locations/provinces/{DA_NANG}/communes", params={"limit": 1}))
    club = make_club(admin, province_code=DA_NANG, commune_code=communes["items"][0]["code"])
    members = [
        ok(admin.post(f"/api/v1/clubs/{club['id']}/members", json=member_payload()), 201)
        for _ in range(4)
    ]
    opened = admin.post("/api/v1/funds", json={"club_id": club["id"], "kind": "income_generation"})
    assert opened.status_code in (200, 201), opened.text  # 200: opened by the club's activation
    fund = opened.json()
    capital = {
        "amount": 20_000_000,
        "occurred_on": "2023-12-01",
        "origin": "seed",
        "reference": "seed",
    }
    ok(admin.post(f"/api/v1/funds/{fund['id']}/capital", json=capital), 201)
    ok(admin.put(f"/api/v1/funds/{fund['id']}/loan-rules", json=RULES), 201)
    loan_a = lend(admin, club["id"], members[0]["id"], 6_000_000, 6)
    loan_b = lend(admin, club["id"], members[1]["id"], 3_000_000, 3)
    repay(admin, loan_a, 1_060_000, "2024-02-15")
    for paid_on in ("2024-02-15", "2024-03-15", "2024-04-15"):
        repay(admin, loan_b, 1_030_000, paid_on)
    bank = as_role("bank", bank_code="VBSP_DN")
    third = bank_record(members[2]["national_id"])
    post_bank(bank, third)
    post_bank(
        bank, {**third, "outstanding_principal": 0, "status": "closed", "as_of": "2024-06-30"}
    )
    post_bank(
        bank,
        bank_record(
            members[0]["national_id"],
            outstanding_principal=20_000_000,
            overdue_amount=2_000_000,
            status="overdue",
        ),
    )
    return {"club": club, "members": members, "loans": (loan_a, loan_b)}


def test_a_club_on_a_date_with_a_late_loan(da_nang: dict[str, Any], admin: httpx.Client) -> None:
    figures = ok(
        admin.get(PORTFOLIO, params={"club_id": da_nang["club"]["id"], "on": "2024-04-20"})
    )
    assert figures["club_loans"] == {
        "loans_outstanding": 1,
        "outstanding_principal": 5_000_000,
        "par30_principal": 5_000_000,
        "par30_pct": 100.0,
        "due_to_date": 3 * 1_060_000 + 3 * 1_030_000,
        "repaid_to_date": 1_060_000 + 3 * 1_030_000,
        "repayment_rate_pct": 66.2,
        "written_off_principal": 0,
        "borrowers": 1,
    }
    assert figures["bank_loans"] == {
        "loans_outstanding": 2,
        "outstanding_principal": 30_000_000,
        "overdue_amount": 2_000_000,
        "borrowers": 2,
    }
    # The borrower of loan A also owes the bank: two of four members can borrow.
    assert figures["borrowing"] == {
        "active_members": 4,
        "members_with_loan": 2,
        "share_pct": 50.0,
        "target_pct": 50,
        "met": True,
    }
    assert figures["missing"] == []


def test_the_same_club_earlier_has_nothing_at_risk(
    da_nang: dict[str, Any], admin: httpx.Client
) -> None:
    figures = ok(
        admin.get(PORTFOLIO, params={"club_id": da_nang["club"]["id"], "on": "2024-03-01"})
    )
    club_loans = figures["club_loans"]
    assert club_loans["loans_outstanding"] == 2
    assert club_loans["outstanding_principal"] == 5_000_000 + 2_000_000
    assert club_loans["par30_principal"] == 0
    assert club_loans["repayment_rate_pct"] == 100.0
    # The bank's figures were posted as of 31 March: on 1 March there were none yet.
    assert figures["bank_loans"]["loans_outstanding"] == 0


def test_bank_figures_follow_the_posting_as_of_the_date(
    da_nang: dict[str, Any], admin: httpx.Client
) -> None:
    """The third member's bank loan was closed as of 30 June: it counts in May, not in July."""
    may = ok(admin.get(PORTFOLIO, params={"club_id": da_nang["club"]["id"], "on": "2024-05-31"}))
    july = ok(admin.get(PORTFOLIO, params={"club_id": da_nang["club"]["id"], "on": "2024-07-01"}))
    assert may["bank_loans"]["borrowers"] == 2
    assert july["bank_loans"]["borrowers"] == 1
    assert july["borrowing"]["members_with_loan"] == 1
    assert july["borrowing"]["met"] is False


def test_the_province_and_the_country_add_up(da_nang: dict[str, Any], admin: httpx.Client) -> None:
    on = {"on": "2024-04-20"}
    club = ok(admin.get(PORTFOLIO, params={"club_id": da_nang["club"]["id"], **on}))
    province = ok(admin.get(PORTFOLIO, params={"province": DA_NANG, **on}))
    assert province["province_code"] == DA_NANG
    assert province["club_loans"] == club["club_loans"]
    assert province["bank_loans"] == club["bank_loans"]
    country = ok(admin.get(PORTFOLIO, params=on))
    by_province = {item["province_code"]: item for item in country["by_province"]}
    assert by_province[DA_NANG]["club_loans"] == club["club_loans"]
    for name in ("outstanding_principal", "par30_principal", "due_to_date", "repaid_to_date"):
        assert country["club_loans"][name] == sum(
            item["club_loans"][name] for item in country["by_province"]
        )
    assert country["borrowing"]["active_members"] == sum(
        item["borrowing"]["active_members"] for item in country["by_province"]
    )


@pytest.mark.parametrize(
    "on",
    # Before, between and after the repayments, the bank's postings and loan B's closing.
    ["2024-01-20", "2024-03-01", "2024-04-14", "2024-04-20", "2024-05-31", "2024-07-01"],
)
def test_the_indicators_count_as_the_portfolio(
    da_nang: dict[str, Any], admin: httpx.Client, on: str
) -> None:
    """`POST /loans/indicators` takes today's loans from their standing and replays only the
    loans repaid since the date: its figures are the portfolio's on every date."""
    club_id = da_nang["club"]["id"]
    portfolio = ok(admin.get(PORTFOLIO, params={"club_id": club_id, "on": on}))
    money = ok(admin.post("/api/v1/loans/indicators", json={"club_ids": [club_id], "on": on}))
    club, bank = portfolio["club_loans"], portfolio["bank_loans"]
    assert (
        money["loans_outstanding"],
        money["outstanding_principal"],
        money["par30_principal"],
        money["members_with_club_loan"],
        money["members_with_bank_loan"],
        money["members_with_loan"],
    ) == (
        club["loans_outstanding"],
        club["outstanding_principal"],
        club["par30_principal"],
        club["borrowers"],
        bank["borrowers"],
        portfolio["borrowing"]["members_with_loan"],
    )


def test_a_loans_standing_follows_its_repayments() -> None:
    """Late from 31 days after the first instalment not covered, in principal or interest."""
    schedule = [
        Instalment(n, date(2024, 1 + n, 15), 1_000_000, 60_000, n * 1_000_000, n * 60_000)
        for n in (1, 2, 3)
    ]
    assert late_from(schedule, 0, 0) == date(2024, 3, 17)
    assert late_from(schedule, 1_000_000, 60_000) == date(2024, 4, 15)
    assert late_from(schedule, 2_000_000, 60_000) == date(2024, 4, 15)
    assert late_from(schedule, 3_000_000, 180_000) is None


def test_an_officer_sees_only_the_own_provinces(
    da_nang: dict[str, Any], as_role: Callable[..., httpx.Client]
) -> None:
    officer = as_role("officer", provinces=[LAO_CAI])
    assert_problem(officer.get(PORTFOLIO, params={"club_id": da_nang["club"]["id"]}), 404)
    assert_problem(officer.get(PORTFOLIO, params={"province": DA_NANG}), 404)
    country = ok(officer.get(PORTFOLIO, params={"on": "2024-04-20"}))
    assert {item["province_code"] for item in country["by_province"]} <= {LAO_CAI}
    own = ok(as_role("officer", provinces=[DA_NANG]).get(PORTFOLIO, params={"on": "2024-04-20"}))
    assert own["club_loans"]["outstanding_principal"] == 5_000_000


def test_a_club_board_sees_its_club_only(
    da_nang: dict[str, Any], as_role: Callable[..., httpx.Client]
) -> None:
    board = as_role("club_manager", clubs=[da_nang["club"]["id"]])
    own = ok(board.get(PORTFOLIO, params={"on": "2024-04-20"}))
    assert own["club_loans"]["outstanding_principal"] == 5_000_000
    assert own["borrowing"]["active_members"] == 4
    other = as_role("club_manager", clubs=[da_nang["club"]["id"] + 100_000])
    assert_problem(other.get(PORTFOLIO, params={"club_id": da_nang["club"]["id"]}), 404)
    assert_problem(board.get(PORTFOLIO, params={"province": DA_NANG}), 422, "province")


@pytest.mark.parametrize(
    "role, scope", [("bank", {"bank_code": "VBSP"}), ("partner", {"funder_id": 1})]
)
def test_the_bank_and_partners_get_no_portfolio(
    role: str, scope: dict[str, Any], as_role: Callable[..., httpx.Client]
) -> None:
    assert_problem(as_role(role, **scope).get(PORTFOLIO), 403)


def test_bad_queries_are_refused(admin: httpx.Client) -> None:
    assert_problem(admin.get(PORTFOLIO, params={"province": "1"}), 422, "province")
    assert_problem(admin.get(PORTFOLIO, params={"on": "yesterday"}), 422, "on")
    assert_problem(admin.get(PORTFOLIO, params={"province": DA_NANG, "club_id": 1}), 422, "club_id")
