"""Member loans: the club's loan rules, applying, approving, disbursing, repaying, writing off."""

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest

from common import clock
from tests.factories import HA_NOI, HA_NOI_COMMUNE, LAO_CAI, make_club, member_payload
from tests.support import Api, assert_problem
from tools.stack import Stack

FUND_CAPITAL = 50_000_000
RULES = {
    "monthly_interest_rate": 1,
    "interest_method": "flat",
    "repayment_frequency": "monthly",
    "max_term_months": 12,
    "max_amount": 20_000_000,
}
APPLIED_ON = "2024-01-10"
DISBURSED_ON = "2024-01-15"


def open_fund(client: httpx.Client, club_id: int, kind: str = "income_generation") -> dict:
    """Opened now, or already by the club's activation event."""
    response = client.post("/api/v1/funds", json={"club_id": club_id, "kind": kind})
    assert response.status_code in (200, 201), response.text
    return response.json()


def add_capital(client: httpx.Client, fund_id: int, amount: int) -> None:
    body = {"amount": amount, "occurred_on": "2023-01-01", "origin": "seed", "reference": "seed"}
    response = client.post(f"/api/v1/funds/{fund_id}/capital", json=body)
    assert response.status_code == 201, response.text


def balance(client: httpx.Client, fund_id: int) -> int:
    response = client.get(f"/api/v1/funds/{fund_id}")
    assert response.status_code == 200, response.text
    return response.json()["balance"]


def put_rules(client: httpx.Client, fund_id: int, **overrides: Any) -> httpx.Response:
    return client.put(f"/api/v1/funds/{fund_id}/loan-rules", json={**RULES, **overrides})


def add_member(client: httpx.Client, club_id: int, **overrides: Any) -> dict:
    response = client.post(f"/api/v1/clubs/{club_id}/members", json=member_payload(**overrides))
    assert response.status_code == 201, response.text
    return response.json()


def application(club: dict, **overrides: Any) -> dict[str, Any]:
    return {
        "club_id": club["id"],
        "member_id": club["member_id"],
        "amount": 6_000_000,
        "applied_on": APPLIED_ON,
        "purpose": "Buy two piglets",
        "form": "cash",
        **overrides,
    }


def apply(client: httpx.Client, club: dict, **overrides: Any) -> httpx.Response:
    return client.post("/api/v1/loans", json=application(club, **overrides))


def act(client: httpx.Client, loan_id: int, action: str, **body: Any) -> httpx.Response:
    return client.post(f"/api/v1/loans/{loan_id}/{action}", json=body or None)


def approved_loan(client: httpx.Client, club: dict, **overrides: Any) -> dict:
    applied = apply(client, club, **overrides)
    assert applied.status_code == 201, applied.text
    approved = act(client, applied.json()["id"], "approve")
    assert approved.status_code == 200, approved.text
    return approved.json()


def disbursed_loan(
    client: httpx.Client, club: dict, disbursed_on: str = DISBURSED_ON, **overrides: Any
) -> dict:
    loan = approved_loan(client, club, **overrides)
    disbursed = act(client, loan["id"], "disburse", disbursed_on=disbursed_on)
    assert disbursed.status_code == 200, disbursed.text
    return disbursed.json()


def repay(
    client: httpx.Client, loan_id: int, amount: int, paid_on: str, **extra: Any
) -> httpx.Response:
    body = {"amount": amount, "paid_on": paid_on, "reference": f"receipt {paid_on}"}
    return client.post(f"/api/v1/loans/{loan_id}/repayments", json=body, **extra)


def loan_on(client: httpx.Client, loan_id: int, on: str | None = None) -> dict:
    response = client.get(f"/api/v1/loans/{loan_id}", params={"on": on} if on else None)
    assert response.status_code == 200, response.text
    return response.json()


def schedule(client: httpx.Client, loan_id: int) -> dict:
    response = client.get(f"/api/v1/loans/{loan_id}/schedule")
    assert response.status_code == 200, response.text
    return response.json()


def make_lending_club(admin: httpx.Client, capital: int = FUND_CAPITAL, **rules: Any) -> dict:
    """A Lào Cai club with an income-generation fund, its loan rules and one member."""
    club = make_club(admin)
    fund = open_fund(admin, club["id"])
    if capital:
        add_capital(admin, fund["id"], capital)
    assert put_rules(admin, fund["id"], **rules).status_code == 201
    member = add_member(admin, club["id"])
    return {**club, "fund_id": fund["id"], "member_id": member["id"]}


@pytest.fixture
def club(admin: httpx.Client) -> dict:
    return make_lending_club(admin)


# Loan rules


def test_the_board_sets_the_clubs_loan_rules(
    admin: httpx.Client, as_role: Callable[..., httpx.Client]
) -> None:
    club = make_club(admin)
    fund = open_fund(admin, club["id"])
    board = as_role("club_manager", clubs=[club["id"]])
    assert_problem(board.get(f"/api/v1/funds/{fund['id']}/loan-rules"), 404)
    created = put_rules(board, fund["id"], monthly_interest_rate=0.65)
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["monthly_interest_rate"] == 0.65 and body["club_id"] == club["id"]
    assert body["set_by"].startswith("user:club-manager-") and body["set_at"]
    replaced = put_rules(board, fund["id"], interest_method="declining_balance")
    assert replaced.status_code == 200
    read = as_role("service").get(f"/api/v1/funds/{fund['id']}/loan-rules").json()
    assert read["interest_method"] == "declining_balance" and read["monthly_interest_rate"] == 1


def test_an_activity_fund_has_no_loan_rules(admin: httpx.Client) -> None:
    fund = open_fund(admin, make_club(admin)["id"], "activity")
    assert_problem(put_rules(admin, fund["id"]), 409)
    assert_problem(admin.get(f"/api/v1/funds/{fund['id']}/loan-rules"), 409)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("monthly_interest_rate", 5.0001),
        ("monthly_interest_rate", -0.5),
        ("monthly_interest_rate", 0.12345),
        ("monthly_interest_rate", "NaN"),
        ("max_term_months", 0),
        ("max_term_months", 121),
        ("max_amount", 0),
        ("max_amount", 10**12 + 1),
        ("interest_method", "compound"),
    ],
)
def test_bad_loan_rules_are_refused(admin: httpx.Client, field: str, value: Any) -> None:
    fund = open_fund(admin, make_club(admin)["id"])
    assert_problem(put_rules(admin, fund["id"], **{field: value}), 422, field)


def test_quarterly_rules_run_whole_quarters(admin: httpx.Client) -> None:
    fund = open_fund(admin, make_club(admin)["id"])
    refused = put_rules(admin, fund["id"], repayment_frequency="quarterly", max_term_months=10)
    assert_problem(refused, 422)


def test_only_writers_set_loan_rules(
    club: dict, admin: httpx.Client, as_role: Callable[..., httpx.Client]
) -> None:
    assert_problem(put_rules(as_role("service"), club["fund_id"]), 403)
    assert_problem(put_rules(as_role("partner", funder_id=1), club["fund_id"]), 403)
    other_board = as_role("club_manager", clubs=[make_club(admin)["id"]])
    assert_problem(put_rules(other_board, club["fund_id"]), 404)
    officer = as_role("officer", provinces=[LAO_CAI])
    assert put_rules(officer, club["fund_id"], max_term_months=6).status_code == 200


def test_changing_the_rules_leaves_applied_loans_alone(club: dict, admin: httpx.Client) -> None:
    loan = apply(admin, club).json()
    changed = put_rules(admin, club["fund_id"], monthly_interest_rate=2, max_term_months=6)
    assert changed.status_code == 200
    again = loan_on(admin, loan["id"])
    assert (again["monthly_interest_rate"], again["term_months"]) == (1, 12)
    assert apply(admin, club).json()["term_months"] == 6


# Applying


def test_a_loan_copies_the_rules_unless_it_asks_for_less(
    club: dict, as_role: Callable[..., httpx.Client]
) -> None:
    board = as_role("club_manager", clubs=[club["id"]])
    applied = apply(board, club)
    assert applied.status_code == 201, applied.text
    loan = applied.json()
    assert applied.headers["Location"] == f"/api/v1/loans/{loan['id']}"
    assert loan["status"] == "applied" and loan["amount"] == 6_000_000
    assert (loan["term_months"], loan["monthly_interest_rate"]) == (12, 1)
    assert (loan["interest_method"], loan["repayment_frequency"]) == ("flat", "monthly")
    assert (loan["province_code"], loan["fund_id"]) == (LAO_CAI, club["fund_id"])
    assert loan["applied_by"].startswith("user:club-manager-") and loan["applied_at"]
    assert loan["outstanding_principal"] == loan["days_past_due"] == 0
    lower = apply(board, club, term_months=6, monthly_interest_rate=0.75).json()
    assert (lower["term_months"], lower["monthly_interest_rate"]) == (6, 0.75)


def test_a_loan_in_kind_is_described_and_valued(club: dict, admin: httpx.Client) -> None:
    description = "One breeding cow (valued by the board)"
    applied = apply(admin, club, form="in_kind", in_kind_description=description)
    assert applied.status_code == 201, applied.text
    assert applied.json()["in_kind_description"] == description
    assert_problem(apply(admin, club, form="in_kind"), 422)
    assert_problem(apply(admin, club, in_kind_description=description), 422)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("amount", 0),
        ("amount", -5),
        ("amount", 1.5),
        ("amount", 20_000_001),
        ("monthly_interest_rate", 1.01),
        ("monthly_interest_rate", 7),
        ("monthly_interest_rate", 0.00001),
        ("term_months", 13),
        ("term_months", 0),
        ("applied_on", (clock.today() + timedelta(days=1)).isoformat()),
        ("form", "voucher"),
        ("purpose", ""),
    ],
)
def test_bad_applications_are_refused(
    club: dict, admin: httpx.Client, field: str, value: Any
) -> None:
    assert_problem(apply(admin, club, **{field: value}), 422, field)


def test_unknown_fields_are_refused(club: dict, admin: httpx.Client) -> None:
    assert_problem(apply(admin, club, status="disbursed"), 422)


def test_quarterly_loans_run_whole_quarters(admin: httpx.Client) -> None:
    club = make_lending_club(admin, repayment_frequency="quarterly")
    assert_problem(apply(admin, club, term_months=4), 422, "term_months")
    assert apply(admin, club, term_months=6).status_code == 201


def test_the_borrower_is_a_current_member_of_the_club(club: dict, admin: httpx.Client) -> None:
    other_club = make_club(admin)
    stranger = add_member(admin, other_club["id"])
    assert_problem(apply(admin, club, member_id=stranger["id"]), 422, "member_id")
    assert_problem(apply(admin, club, member_id=2_000_000_000), 422, "member_id")
    leaver = add_member(admin, club["id"])
    left = admin.post(f"/api/v1/members/{leaver['id']}/leave", json={"left_on": "2023-06-30"})
    assert left.status_code == 200, left.text
    assert_problem(apply(admin, club, member_id=leaver["id"]), 422, "member_id")
    newcomer = add_member(admin, club["id"], joined_on="2024-02-01")
    assert_problem(apply(admin, club, member_id=newcomer["id"]), 422, "member_id")


def test_a_club_lends_only_from_an_income_generation_fund_with_rules(admin: httpx.Client) -> None:
    club = make_club(admin)
    member = add_member(admin, club["id"])
    lender = {**club, "member_id": member["id"]}
    assert "fund" in assert_problem(apply(admin, lender), 409)["detail"]
    fund = open_fund(admin, club["id"])
    assert "rules" in assert_problem(apply(admin, lender), 409)["detail"]
    put_rules(admin, fund["id"])
    assert apply(admin, lender).status_code == 201
    assert_problem(apply(admin, {**lender, "id": 2_000_000_000}), 422, "club_id")


# The life cycle


def test_a_loan_is_approved_disbursed_repaid_and_closed(
    club: dict, admin: httpx.Client, as_role: Callable[..., httpx.Client]
) -> None:
    board = as_role("club_manager", clubs=[club["id"]])
    loan = apply(board, club, term_months=6).json()
    approved = act(board, loan["id"], "approve").json()
    assert approved["status"] == "approved" and approved["decided_by"].startswith(
        "user:club-manager-"
    )
    assert approved["decided_at"]
    disbursed = act(board, loan["id"], "disburse", disbursed_on=DISBURSED_ON)
    assert disbursed.status_code == 200, disbursed.text
    body = disbursed.json()
    assert body["status"] == "disbursed" and body["disbursed_on"] == DISBURSED_ON
    assert body["matures_on"] == "2024-07-15" and body["disbursed_by"]
    assert balance(admin, club["fund_id"]) == FUND_CAPITAL - 6_000_000
    plan = schedule(board, loan["id"])
    assert (plan["total_principal"], plan["total_interest"]) == (6_000_000, 360_000)
    assert [(i["due_on"], i["principal"], i["interest"]) for i in plan["instalments"]] == [
        (f"2024-{month:02d}-15", 1_000_000, 60_000) for month in range(2, 8)
    ]
    for number, instalment in enumerate(plan["instalments"], 1):
        paid = repay(board, loan["id"], 1_060_000, instalment["due_on"])
        assert paid.status_code == 201, paid.text
        assert (paid.json()["interest"], paid.json()["principal"]) == (60_000, 1_000_000)
        assert balance(admin, club["fund_id"]) == FUND_CAPITAL - 6_000_000 + number * 1_060_000
    closed = loan_on(board, loan["id"])
    assert closed["status"] == "closed" and closed["closed_on"] == "2024-07-15"
    assert (closed["principal_repaid"], closed["interest_paid"]) == (6_000_000, 360_000)
    assert closed["outstanding_principal"] == closed["days_past_due"] == 0
    repayments = board.get(f"/api/v1/loans/{loan['id']}/repayments").json()
    assert repayments["total"] == 6
    assert [r["outstanding_principal"] for r in repayments["items"]][-2:] == [1_000_000, 0]
    entries = admin.get(f"/api/v1/funds/{club['fund_id']}/entries", params={"limit": 200})
    loan_entries = [e for e in entries.json()["items"] if e["loan_id"] == loan["id"]]
    assert [e["entry_type"] for e in loan_entries][:3] == [
        "loan_disbursed",
        "interest_received",
        "principal_repaid",
    ]
    assert len(loan_entries) == 13
    assert_problem(repay(board, loan["id"], 1_000, "2024-07-20"), 409)


def test_a_declining_balance_schedule_charges_less_as_principal_is_repaid(
    admin: httpx.Client,
) -> None:
    club = make_lending_club(admin, interest_method="declining_balance")
    loan = disbursed_loan(admin, club, amount=12_000_000)
    plan = schedule(admin, loan["id"])
    assert [i["interest"] for i in plan["instalments"]] == [120_000 - 10_000 * k for k in range(12)]
    assert (plan["total_principal"], plan["total_interest"]) == (12_000_000, 780_000)
    assert plan["instalments"][-1]["due_on"] == "2025-01-15"


def test_a_quarterly_schedule_from_the_last_day_of_a_month(admin: httpx.Client) -> None:
    club = make_lending_club(
        admin,
        interest_method="declining_balance",
        repayment_frequency="quarterly",
        monthly_interest_rate=0.65,
    )
    loan = disbursed_loan(admin, club, "2024-01-31", amount=10_000_001)
    plan = schedule(admin, loan["id"])
    assert [(i["due_on"], i["principal"], i["interest"]) for i in plan["instalments"]] == [
        ("2024-04-30", 2_500_000, 195_000),
        ("2024-07-31", 2_500_000, 146_250),
        ("2024-10-31", 2_500_000, 97_500),
        ("2025-01-31", 2_500_001, 48_750),
    ]


def test_a_repayment_pays_overdue_interest_then_current_interest_then_principal(
    club: dict, admin: httpx.Client
) -> None:
    loan = disbursed_loan(admin, club, term_months=6)
    # The February and March instalments are unpaid; April's is the current one.
    paid = repay(admin, loan["id"], 200_000, "2024-03-20")
    assert paid.status_code == 201, paid.text
    assert (paid.json()["interest"], paid.json()["principal"]) == (180_000, 20_000)
    entries = admin.get(f"/api/v1/funds/{club['fund_id']}/entries", params={"limit": 200})
    received = {
        e["entry_type"]: e["amount"]
        for e in entries.json()["items"]
        if e["loan_id"] == loan["id"] and e["occurred_on"] == "2024-03-20"
    }
    assert received == {"interest_received": 180_000, "principal_repaid": 20_000}
    rest = repay(admin, loan["id"], 1_980_000, "2024-03-25").json()
    assert (rest["interest"], rest["principal"], rest["outstanding_principal"]) == (
        0,
        1_980_000,
        4_000_000,
    )


def test_arrears_and_days_past_due_on_chosen_dates(club: dict, admin: httpx.Client) -> None:
    loan = disbursed_loan(admin, club, term_months=6)
    repay(admin, loan["id"], 200_000, "2024-03-20")
    repay(admin, loan["id"], 1_980_000, "2024-03-25")

    def figures(on: str) -> tuple[int, int, int, int]:
        body = loan_on(admin, loan["id"], on)
        return (
            body["outstanding_principal"],
            body["arrears_principal"],
            body["arrears_interest"],
            body["days_past_due"],
        )

    assert figures("2024-01-01") == (0, 0, 0, 0)
    assert figures("2024-02-14") == (6_000_000, 0, 0, 0)
    assert figures("2024-02-15") == (6_000_000, 1_000_000, 60_000, 0)
    assert figures("2024-03-01") == (6_000_000, 1_000_000, 60_000, 15)
    assert figures("2024-03-19") == (6_000_000, 2_000_000, 120_000, 33)
    assert figures("2024-03-20") == (5_980_000, 1_980_000, 0, 34)
    assert figures("2024-03-25") == (4_000_000, 0, 0, 0)
    assert figures("2024-04-16") == (4_000_000, 1_000_000, 0, 1)
    on_date = loan_on(admin, loan["id"], "2024-03-20")
    assert (on_date["on"], on_date["principal_repaid"], on_date["interest_paid"]) == (
        "2024-03-20",
        20_000,
        180_000,
    )


def test_a_repayment_above_what_is_owed_is_refused(club: dict, admin: httpx.Client) -> None:
    loan = disbursed_loan(admin, club, term_months=6)
    # On 20 March: interest of February, March and April, and all the principal.
    refused = assert_problem(repay(admin, loan["id"], 6_180_001, "2024-03-20"), 422, "amount")
    assert refused["owed"] == 6_180_000
    assert balance(admin, club["fund_id"]) == FUND_CAPITAL - 6_000_000
    settled = repay(admin, loan["id"], 6_180_000, "2024-03-20")
    assert settled.status_code == 201, settled.text
    closed = loan_on(admin, loan["id"], "2024-06-30")
    assert closed["status"] == "closed" and closed["closed_on"] == "2024-03-20"
    assert closed["interest_paid"] == 180_000
    assert closed["outstanding_principal"] == closed["days_past_due"] == 0
    assert closed["arrears_principal"] == closed["arrears_interest"] == 0


def test_repayment_dates_are_checked(club: dict, admin: httpx.Client) -> None:
    loan = disbursed_loan(admin, club)
    assert_problem(repay(admin, loan["id"], 1_000, "2024-01-14"), 422, "paid_on")
    tomorrow = (clock.today() + timedelta(days=1)).isoformat()
    assert_problem(repay(admin, loan["id"], 1_000, tomorrow), 422, "paid_on")
    assert repay(admin, loan["id"], 1_000, "2024-03-01").status_code == 201
    assert_problem(repay(admin, loan["id"], 1_000, "2024-02-28"), 409)
    assert repay(admin, loan["id"], 1_000, "2024-03-01").status_code == 201
    assert_problem(repay(admin, loan["id"], 0, "2024-03-02"), 422, "amount")


def test_an_officer_writes_off_the_outstanding_principal(
    club: dict, admin: httpx.Client, as_role: Callable[..., httpx.Client]
) -> None:
    loan = disbursed_loan(admin, club, term_months=6)
    repay(admin, loan["id"], 1_060_000, "2024-02-15")
    cash = balance(admin, club["fund_id"])
    board = as_role("club_manager", clubs=[club["id"]])
    write_off = {"written_off_on": "2024-09-30", "reason": "The borrower moved away"}
    assert_problem(act(board, loan["id"], "write-off", **write_off), 403)
    officer = as_role("officer", provinces=[LAO_CAI])
    assert_problem(
        act(officer, loan["id"], "write-off", written_off_on="2024-02-01", reason="x"), 409
    )
    done = act(officer, loan["id"], "write-off", **write_off)
    assert done.status_code == 200, done.text
    body = done.json()
    assert body["status"] == "written_off" and body["written_off_principal"] == 5_000_000
    assert body["written_off_by"].startswith("user:officer-") and body["written_off_at"]
    assert body["outstanding_principal"] == body["days_past_due"] == 0
    assert balance(admin, club["fund_id"]) == cash
    entries = admin.get(f"/api/v1/funds/{club['fund_id']}/entries", params={"limit": 200})
    [loss] = [e for e in entries.json()["items"] if e["entry_type"] == "write_off"]
    assert (loss["amount"], loss["loan_id"], loss["occurred_on"]) == (
        5_000_000,
        loan["id"],
        "2024-09-30",
    )
    before = loan_on(admin, loan["id"], "2024-09-29")
    assert before["outstanding_principal"] == 5_000_000 and before["days_past_due"] == 198
    assert_problem(repay(admin, loan["id"], 1_000, "2024-10-01"), 409)
    assert_problem(act(officer, loan["id"], "write-off", **write_off), 409)


def test_invalid_transitions_are_refused_with_the_current_status(
    club: dict, admin: httpx.Client
) -> None:
    loan = apply(admin, club).json()
    assert (
        "applied"
        in assert_problem(act(admin, loan["id"], "disburse", disbursed_on=DISBURSED_ON), 409)[
            "detail"
        ]
    )
    assert_problem(repay(admin, loan["id"], 1_000, DISBURSED_ON), 409)
    assert_problem(admin.get(f"/api/v1/loans/{loan['id']}/schedule"), 409)
    assert_problem(
        act(admin, loan["id"], "write-off", written_off_on=DISBURSED_ON, reason="x"), 409
    )
    assert_problem(act(admin, loan["id"], "reject"), 422)
    rejected = act(admin, loan["id"], "reject", reason="Purpose outside the regulation")
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    assert rejected.json()["rejection_reason"] == "Purpose outside the regulation"
    refused = assert_problem(act(admin, loan["id"], "approve"), 409)
    assert refused["loan_status"] == "rejected" and "rejected" in refused["detail"]
    approved = approved_loan(admin, club)
    assert_problem(act(admin, approved["id"], "approve"), 409)
    assert_problem(act(admin, approved["id"], "reject", reason="too late"), 409)
    early = act(admin, approved["id"], "disburse", disbursed_on="2024-01-09")
    assert_problem(early, 422, "disbursed_on")


def test_a_loan_entry_is_not_reversed_through_the_fund(club: dict, admin: httpx.Client) -> None:
    loan = disbursed_loan(admin, club)
    entries = admin.get(f"/api/v1/funds/{club['fund_id']}/entries", params={"limit": 200})
    [paid_out] = [e for e in entries.json()["items"] if e["loan_id"] == loan["id"]]
    reversal = admin.post(
        f"/api/v1/funds/{club['fund_id']}/entries/{paid_out['id']}/reversal",
        json={"occurred_on": DISBURSED_ON, "reference": "typed twice"},
    )
    assert_problem(reversal, 409)


# Concurrency and retries


def run_together(api: Api, calls: list[Callable[[httpx.Client], httpx.Response]]) -> list[int]:
    """Runs the calls at the same moment, each with its own connection; their statuses."""
    barrier = threading.Barrier(len(calls))
    statuses: list[int] = []

    def run(call: Callable[[httpx.Client], httpx.Response]) -> None:
        with api.client(api.admin_token) as client:
            barrier.wait()
            statuses.append(call(client).status_code)

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(statuses)


def test_disbursements_at_the_same_moment_never_overdraw_the_fund(
    admin: httpx.Client, api: Api
) -> None:
    club = make_lending_club(admin, capital=10_000_000)
    loans = [approved_loan(admin, club) for _ in range(2)]
    statuses = run_together(
        api,
        [
            lambda client, loan=loan: act(client, loan["id"], "disburse", disbursed_on=DISBURSED_ON)
            for loan in loans
        ],
    )
    assert statuses == [200, 409]
    assert balance(admin, club["fund_id"]) == 4_000_000
    states = sorted(loan_on(admin, loan["id"])["status"] for loan in loans)
    assert states == ["approved", "disbursed"]


def test_two_payoffs_at_the_same_moment_close_the_loan_once(
    club: dict, admin: httpx.Client, api: Api
) -> None:
    loan = disbursed_loan(admin, club, term_months=6)
    payoff = 6_060_000  # on the first due date: its interest and all the principal
    statuses = run_together(
        api, [lambda client: repay(client, loan["id"], payoff, "2024-02-15") for _ in range(2)]
    )
    assert statuses == [201, 409]
    assert balance(admin, club["fund_id"]) == FUND_CAPITAL - 6_000_000 + payoff
    assert loan_on(admin, loan["id"])["status"] == "closed"


def test_a_retried_repayment_is_recorded_once(club: dict, admin: httpx.Client) -> None:
    loan = disbursed_loan(admin, club)
    key = {"Idempotency-Key": f"repayment-{loan['id']}-1"}
    first = repay(admin, loan["id"], 500_000, "2024-02-15", headers=key)
    again = repay(admin, loan["id"], 500_000, "2024-02-15", headers=key)
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert admin.get(f"/api/v1/loans/{loan['id']}/repayments").json()["total"] == 1
    assert balance(admin, club["fund_id"]) == FUND_CAPITAL - 6_000_000 + 500_000


# Who may do what


def test_loans_are_listed_in_scope_with_filters(
    admin: httpx.Client, as_role: Callable[..., httpx.Client]
) -> None:
    club = make_lending_club(admin)
    first = apply(admin, club).json()
    second = approved_loan(admin, club)
    listed = admin.get("/api/v1/loans", params={"club_id": club["id"], "sort": "-id"}).json()
    assert listed["total"] == 2
    assert [loan["id"] for loan in listed["items"]] == [second["id"], first["id"]]
    only = admin.get(
        "/api/v1/loans",
        params={"club_id": club["id"], "member_id": club["member_id"], "status": "approved"},
    ).json()
    assert [loan["id"] for loan in only["items"]] == [second["id"]]
    board = as_role("club_manager", clubs=[club["id"]])
    assert board.get("/api/v1/loans").json()["total"] == 2
    other = as_role("club_manager", clubs=[make_club(admin)["id"]])
    assert other.get("/api/v1/loans", params={"club_id": club["id"]}).json()["total"] == 0
    assert_problem(admin.get("/api/v1/loans", params={"limit": 1001}), 422)
    assert_problem(admin.get("/api/v1/loans", params={"status": "lost"}), 422)


def test_outsiders_are_refused(
    club: dict, admin: httpx.Client, as_role: Callable[..., httpx.Client]
) -> None:
    loan = approved_loan(admin, club)
    path = f"/api/v1/loans/{loan['id']}"
    for outsider in (as_role("bank"), as_role("partner", funder_id=1)):
        assert_problem(outsider.get("/api/v1/loans"), 403)
        assert_problem(outsider.get(path), 403)
        assert_problem(apply(outsider, club), 403)
    other_board = as_role("club_manager", clubs=[make_club(admin)["id"]])
    other_officer = as_role("officer", provinces=[HA_NOI])
    for stranger in (other_board, other_officer):
        assert_problem(stranger.get(path), 404)
        assert_problem(act(stranger, loan["id"], "disburse", disbursed_on=DISBURSED_ON), 404)
        assert_problem(apply(stranger, club), 422, "club_id")
    system = as_role("service")
    assert loan_on(system, loan["id"])["status"] == "approved"
    assert_problem(act(system, loan["id"], "disburse", disbursed_on=DISBURSED_ON), 403)
    assert_problem(apply(system, club), 403)
    assert loan_on(admin, loan["id"])["status"] == "approved"


def test_the_loans_service_itself_refuses_the_bank(stack: Stack, api: Api) -> None:
    token = api.token_for("bank")
    direct = httpx.get(
        f"{stack.url('loans')}/api/v1/loans", headers={"Authorization": f"Bearer {token}"}
    )
    assert_problem(direct, 403)


def test_an_officer_of_the_area_runs_a_loan(
    admin: httpx.Client, as_role: Callable[..., httpx.Client]
) -> None:
    club = make_lending_club(admin)
    officer = as_role("officer", provinces=[LAO_CAI])
    loan = apply(officer, club).json()
    assert act(officer, loan["id"], "approve").status_code == 200
    assert act(officer, loan["id"], "disburse", disbursed_on=DISBURSED_ON).status_code == 200
    assert repay(officer, loan["id"], 560_000, "2024-02-15").status_code == 201
    ha_noi = make_club(admin, province_code=HA_NOI, commune_code=HA_NOI_COMMUNE)
    fund = open_fund(admin, ha_noi["id"])
    assert_problem(put_rules(officer, fund["id"]), 404)
