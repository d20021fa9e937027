"""Club funds as a ledger: opening funds, capital, expenses, reversals and the statement."""

import asyncio
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import Session, select

from common import clock
from common.auth import Principal, Role
from common.club_directory import ClubDirectory
from common.db import make_engine
from common.problems import Conflict, ServiceUnavailable
from services.loans.ledger import rules, service
from services.loans.ledger.models import Fund, LedgerEntry, Posting
from services.loans.ledger.rules import Account, CapitalOrigin, EntryType
from services.loans.models import LoansBase
from tests.factories import HA_NOI, HA_NOI_COMMUNE, LAO_CAI, make_club
from tests.support import assert_problem, unreachable_service

TODAY = clock.today().isoformat()
LAST_YEAR = (clock.today() - timedelta(days=365)).isoformat()


def open_fund(client: httpx.Client, club_id: int, kind: str = "activity") -> dict[str, Any]:
    """The club's fund of that kind: opened now (201), or already opened by the club's
    activation event (200)."""
    response = client.post("/api/v1/funds", json={"club_id": club_id, "kind": kind})
    assert response.status_code in (200, 201), response.text
    return response.json()


def capital(client: httpx.Client, fund_id: int, amount: int, **extra: Any) -> httpx.Response:
    body = {"amount": amount, "occurred_on": TODAY, "origin": "seed", "reference": "QĐ 12"}
    return client.post(f"/api/v1/funds/{fund_id}/capital", json={**body, **extra})


def expense(client: httpx.Client, fund_id: int, amount: int, **extra: Any) -> httpx.Response:
    body = {"amount": amount, "occurred_on": TODAY, "reference": "Tết visits"}
    return client.post(f"/api/v1/funds/{fund_id}/expenses", json={**body, **extra})


def balance(client: httpx.Client, fund_id: int) -> int:
    response = client.get(f"/api/v1/funds/{fund_id}")
    assert response.status_code == 200, response.text
    return response.json()["balance"]


@pytest.fixture
def fund(admin: httpx.Client) -> dict[str, Any]:
    """A fresh activity fund of a fresh Lào Cai club, with 100 000 đồng of seed money."""
    created = open_fund(admin, make_club(admin)["id"])
    assert capital(admin, created["id"], 100_000).status_code == 201
    return created


# Opening funds


def test_a_club_gets_an_income_generation_and_an_activity_fund(admin: httpx.Client) -> None:
    club = make_club(admin)
    revolving = open_fund(admin, club["id"], "income_generation")
    activity = open_fund(admin, club["id"], "activity")
    assert revolving["balance"] == activity["balance"] == 0
    assert revolving["province_code"] == club["province_code"]
    assert revolving["commune_code"] == club["commune_code"]
    listed = admin.get("/api/v1/funds", params={"club_id": club["id"]}).json()
    assert {f["kind"] for f in listed["items"]} == {"income_generation", "activity"}
    assert listed["total"] == 2
    only = admin.get("/api/v1/funds", params={"club_id": club["id"], "kind": "activity"}).json()
    assert [f["id"] for f in only["items"]] == [activity["id"]]


def test_a_club_has_one_fund_of_each_kind(admin: httpx.Client) -> None:
    club = make_club(admin)
    first = open_fund(admin, club["id"])
    again = admin.post("/api/v1/funds", json={"club_id": club["id"], "kind": "activity"})
    assert again.status_code == 200, again.text
    assert again.json()["id"] == first["id"]
    listed = admin.get("/api/v1/funds", params={"club_id": club["id"], "kind": "activity"})
    assert listed.json()["total"] == 1


def test_a_fund_for_an_unknown_club_is_refused(admin: httpx.Client) -> None:
    response = admin.post("/api/v1/funds", json={"club_id": 2_000_000_000, "kind": "activity"})
    assert_problem(response, 422, "club_id")


def test_a_dissolved_club_gets_no_fund(admin: httpx.Client) -> None:
    club = make_club(admin)
    dissolved = admin.post(f"/api/v1/clubs/{club['id']}/status", json={"status": "dissolved"})
    assert dissolved.status_code == 200, dissolved.text
    assert_problem(
        admin.post("/api/v1/funds", json={"club_id": club["id"], "kind": "activity"}), 409
    )


def test_an_officer_opens_funds_in_their_province_only(
    admin: httpx.Client, as_role: Callable[..., httpx.Client]
) -> None:
    lao_cai = make_club(admin)
    ha_noi = make_club(admin, province_code=HA_NOI, commune_code=HA_NOI_COMMUNE)
    officer = as_role("officer", provinces=[LAO_CAI])
    open_fund(officer, lao_cai["id"])
    outside = officer.post("/api/v1/funds", json={"club_id": ha_noi["id"], "kind": "activity"})
    assert_problem(outside, 422, "club_id")
    theirs = open_fund(admin, ha_noi["id"])
    assert_problem(officer.get(f"/api/v1/funds/{theirs['id']}"), 404)
    listed = officer.get("/api/v1/funds", params={"club_id": ha_noi["id"]}).json()
    assert listed["items"] == [] and listed["total"] == 0


def test_a_club_board_cannot_open_funds(
    admin: httpx.Client, as_role: Callable[..., httpx.Client]
) -> None:
    club = make_club(admin)
    board = as_role("club_manager", clubs=[club["id"]])
    assert_problem(
        board.post("/api/v1/funds", json={"club_id": club["id"], "kind": "activity"}), 403
    )


def test_a_clubs_service_that_is_down_is_a_503() -> None:
    client = unreachable_service("clubs")
    with pytest.raises(ServiceUnavailable):
        asyncio.run(ClubDirectory(client).facts({1, 2}))


# Capital, expenses and balance


def test_capital_in_raises_the_balance(admin: httpx.Client) -> None:
    fund = open_fund(admin, make_club(admin)["id"], "income_generation")
    entry = capital(admin, fund["id"], 20_000_000)
    assert entry.status_code == 201, entry.text
    body = entry.json()
    assert body["entry_type"] == "capital_in" and body["origin"] == "seed"
    assert sorted((p["account"], p["amount"]) for p in body["postings"]) == [
        ("capital", -20_000_000),
        ("cash", 20_000_000),
    ]
    assert capital(admin, fund["id"], 5_000_000, origin="member_contribution").status_code == 201
    assert balance(admin, fund["id"]) == 25_000_000


def test_an_allocation_is_recorded_once(
    admin: httpx.Client, deliberate_break: Callable[..., None]
) -> None:
    fund = open_fund(admin, make_club(admin)["id"], "income_generation")
    allocation = int(fund["id"]) * 1000 + 7
    first = capital(admin, fund["id"], 15_000_000, origin="allocation", allocation_id=allocation)
    assert first.status_code == 201, first.text
    # Capital for an allocation the funding service never made.
    deliberate_break("allocations", allocation_id=allocation)
    again = capital(admin, fund["id"], 15_000_000, origin="allocation", allocation_id=allocation)
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert balance(admin, fund["id"]) == 15_000_000
    other = open_fund(admin, make_club(admin)["id"], "income_generation")
    elsewhere = capital(
        admin, other["id"], 15_000_000, origin="allocation", allocation_id=allocation
    )
    assert_problem(elsewhere, 409)


def test_an_allocation_id_needs_the_allocation_origin(
    fund: dict[str, Any], admin: httpx.Client
) -> None:
    refused = assert_problem(capital(admin, fund["id"], 1_000, allocation_id=5), 422)
    assert [error["code"] for error in refused["errors"]] == ["not_allowed_with"]


def test_an_expense_is_refused_when_the_fund_cannot_cover_it(
    fund: dict[str, Any], admin: httpx.Client
) -> None:
    assert expense(admin, fund["id"], 60_000).status_code == 201
    refused = assert_problem(expense(admin, fund["id"], 40_001), 409)
    assert refused["code"] == "fund_overdraft" and refused["balance"] == 40_000
    assert expense(admin, fund["id"], 40_000).status_code == 201
    assert balance(admin, fund["id"]) == 0


def test_no_back_dated_entry_takes_a_running_balance_below_zero(admin: httpx.Client) -> None:
    """Money leaving on a date must be there on that date and on every later statement line."""
    fund_id = open_fund(admin, make_club(admin)["id"])["id"]
    assert capital(admin, fund_id, 100_000, occurred_on="2024-06-01").status_code == 201
    before_it_came = assert_problem(expense(admin, fund_id, 50_000, occurred_on="2024-05-31"), 409)
    assert (before_it_came["balance"], before_it_came["on"]) == (0, "2024-05-31")
    assert expense(admin, fund_id, 70_000, occurred_on="2024-08-01").status_code == 201
    # On 1 July it held 100 000, but the August expense leaves only 30 000 from then on.
    later = assert_problem(expense(admin, fund_id, 40_000, occurred_on="2024-07-01"), 409)
    assert later["balance"] == 30_000
    assert expense(admin, fund_id, 30_000, occurred_on="2024-07-01").status_code == 201
    capital_id = admin.get(f"/api/v1/funds/{fund_id}/entries").json()["items"][0]["id"]
    reversal = {"occurred_on": "2024-06-02", "reference": "typed twice"}
    reversed_ = admin.post(f"/api/v1/funds/{fund_id}/entries/{capital_id}/reversal", json=reversal)
    assert_problem(reversed_, 409)
    lines = admin.get(f"/api/v1/funds/{fund_id}/entries").json()["items"]
    assert [line["running_balance"] for line in lines] == [100_000, 70_000, 0]


def test_expenses_come_from_the_activity_fund_only(admin: httpx.Client) -> None:
    revolving = open_fund(admin, make_club(admin)["id"], "income_generation")
    capital(admin, revolving["id"], 10_000)
    assert assert_problem(expense(admin, revolving["id"], 1_000), 409)["code"] == "wrong_fund_kind"


@pytest.mark.parametrize("amount", [0, -5, 1.5, 1000.5, "1000", 10**12 + 1, 10**30], ids=repr)
def test_bad_amounts_are_refused(fund: dict[str, Any], admin: httpx.Client, amount: Any) -> None:
    assert_problem(capital(admin, fund["id"], amount), 422, "amount")
    assert_problem(expense(admin, fund["id"], amount), 422, "amount")


def test_the_largest_amount_is_accepted(admin: httpx.Client) -> None:
    fund = open_fund(admin, make_club(admin)["id"], "income_generation")
    assert capital(admin, fund["id"], 10**12).status_code == 201
    assert balance(admin, fund["id"]) == 10**12


def test_future_dates_are_refused(fund: dict[str, Any], admin: httpx.Client) -> None:
    tomorrow = (clock.today() + timedelta(days=1)).isoformat()
    assert_problem(capital(admin, fund["id"], 1_000, occurred_on=tomorrow), 422, "occurred_on")
    assert_problem(expense(admin, fund["id"], 1_000, occurred_on=tomorrow), 422, "occurred_on")


def test_unknown_fields_are_refused(fund: dict[str, Any], admin: httpx.Client) -> None:
    assert_problem(expense(admin, fund["id"], 1_000, balance=10**9), 422)


def test_concurrent_expenses_never_overdraw_the_fund(fund: dict[str, Any], api: Any) -> None:
    attempts, each = 10, 30_000
    barrier = threading.Barrier(attempts)
    statuses: list[int] = []

    def spend() -> None:
        with api.client(api.admin_token) as client:
            barrier.wait()
            response = expense(client, fund["id"], each)
            statuses.append(response.status_code)

    threads = [threading.Thread(target=spend) for _ in range(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [201] * 3 + [409] * 7
    with api.client(api.admin_token) as client:
        assert balance(client, fund["id"]) == 10_000


def test_an_idempotency_key_replays_the_first_answer(
    fund: dict[str, Any], admin: httpx.Client
) -> None:
    headers = {"Idempotency-Key": f"expense-{fund['id']}"}
    body = {"amount": 25_000, "occurred_on": TODAY, "reference": "hall rent"}
    first = admin.post(f"/api/v1/funds/{fund['id']}/expenses", json=body, headers=headers)
    again = admin.post(f"/api/v1/funds/{fund['id']}/expenses", json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert balance(admin, fund["id"]) == 75_000


# Reversals and the statement


def reversal(client: httpx.Client, fund_id: int, entry_id: int) -> httpx.Response:
    return client.post(
        f"/api/v1/funds/{fund_id}/entries/{entry_id}/reversal",
        json={"occurred_on": TODAY, "reference": "typed twice"},
    )


def test_a_mistake_is_corrected_by_a_reversing_entry_once(
    fund: dict[str, Any], admin: httpx.Client
) -> None:
    spent = expense(admin, fund["id"], 30_000).json()
    reversed_ = reversal(admin, fund["id"], spent["id"])
    assert reversed_.status_code == 201, reversed_.text
    body = reversed_.json()
    assert body["entry_type"] == "reversal" and body["reverses_entry_id"] == spent["id"]
    assert sorted((p["account"], p["amount"]) for p in body["postings"]) == [
        ("cash", 30_000),
        ("expenses", -30_000),
    ]
    assert balance(admin, fund["id"]) == 100_000
    again = assert_problem(reversal(admin, fund["id"], spent["id"]), 409)
    assert again["code"] == "entry_already_reversed"
    assert assert_problem(reversal(admin, fund["id"], body["id"]), 409)["code"] == (
        "entry_is_reversal"
    )


def test_a_reversal_that_would_overdraw_the_fund_is_refused(admin: httpx.Client) -> None:
    fund = open_fund(admin, make_club(admin)["id"])
    seed = capital(admin, fund["id"], 50_000).json()
    expense(admin, fund["id"], 40_000)
    assert_problem(reversal(admin, fund["id"], seed["id"]), 409)
    assert balance(admin, fund["id"]) == 10_000


def test_an_entry_of_another_fund_cannot_be_reversed_here(
    fund: dict[str, Any], admin: httpx.Client
) -> None:
    other = open_fund(admin, make_club(admin)["id"])
    entry = capital(admin, other["id"], 1_000).json()
    assert_problem(reversal(admin, fund["id"], entry["id"]), 404)


def test_the_statement_shows_a_running_balance_in_date_order(admin: httpx.Client) -> None:
    fund = open_fund(admin, make_club(admin)["id"])
    yesterday = (clock.today() - timedelta(days=1)).isoformat()
    capital(admin, fund["id"], 100_000, occurred_on=LAST_YEAR)
    expense(admin, fund["id"], 30_000)
    expense(admin, fund["id"], 20_000, occurred_on=yesterday)
    lines = admin.get(f"/api/v1/funds/{fund['id']}/entries").json()
    assert lines["total"] == 3
    assert [(e["cash_change"], e["running_balance"]) for e in lines["items"]] == [
        (100_000, 100_000),
        (-20_000, 80_000),
        (-30_000, 50_000),
    ]
    recent = admin.get(
        f"/api/v1/funds/{fund['id']}/entries", params={"from": yesterday, "limit": 1, "offset": 1}
    ).json()
    assert recent["total"] == 2
    assert [e["running_balance"] for e in recent["items"]] == [50_000]
    assert_problem(
        admin.get(f"/api/v1/funds/{fund['id']}/entries", params={"from": TODAY, "to": LAST_YEAR}),
        422,
    )


# Who may do what


def test_the_club_board_and_the_areas_officer_write_the_ledger(
    fund: dict[str, Any], as_role: Callable[..., httpx.Client]
) -> None:
    board = as_role("club_manager", clubs=[fund["club_id"]])
    officer = as_role("officer", provinces=[LAO_CAI])
    assert expense(board, fund["id"], 1_000).status_code == 201
    assert expense(officer, fund["id"], 1_000).status_code == 201
    assert balance(board, fund["id"]) == 98_000


def test_others_are_refused(
    fund: dict[str, Any], admin: httpx.Client, as_role: Callable[..., httpx.Client]
) -> None:
    other_board = as_role("club_manager", clubs=[make_club(admin)["id"]])
    assert_problem(expense(other_board, fund["id"], 1_000), 404)
    assert_problem(other_board.get(f"/api/v1/funds/{fund['id']}"), 404)
    for outsider in (as_role("partner", funder_id=1), as_role("bank")):
        assert_problem(outsider.get(f"/api/v1/funds/{fund['id']}"), 403)
        assert_problem(expense(outsider, fund["id"], 1_000), 403)
    system = as_role("service")
    assert balance(system, fund["id"]) == 100_000
    assert_problem(expense(system, fund["id"], 1_000), 403)
    assert balance(admin, fund["id"]) == 100_000


# The posting rules, in-process

OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("capital"), st.integers(1, rules.MAX_AMOUNT)),
        st.tuples(st.just("expense"), st.integers(1, rules.MAX_AMOUNT)),
        st.tuples(st.just("reverse"), st.integers(0, 50)),
    ),
    max_size=12,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operations=OPERATIONS)
def test_every_entry_balances_and_cash_never_goes_negative(
    operations: list[tuple[str, int]], tmp_path_factory: pytest.TempPathFactory
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('ledger') / 'loans.db'}")
    LoansBase.metadata.create_all(engine)
    clerk = Principal(subject="clerk", role=Role.ADMIN)
    today = clock.today()
    with Session(engine) as session:
        fund = Fund(
            club_id=1, kind="activity", province_code="15", commune_code="02647", opened_by="clerk"
        )
        session.add(fund)
        session.flush()
        cash = 0
        entries: list[int] = []
        for operation, value in operations:
            try:
                if operation == "capital":
                    entry, _ = service.add_capital(
                        session, fund, clerk, value, today, CapitalOrigin.OTHER, None, ""
                    )
                elif operation == "expense":
                    entry = service.spend(session, fund, clerk, EntryType.EXPENSE, value, today, "")
                elif entries:
                    entry = service.reverse(
                        session, fund, clerk, entries[value % len(entries)], today, ""
                    )
                else:
                    continue
            except Conflict:
                continue
            assert entry.id is not None
            entries.append(entry.id)
            cash += rules.cash_change(
                (Account(p.account), p.amount)
                for p in session.exec(select(Posting).where(Posting.entry_id == entry.id))
            )
            assert cash >= 0
        for entry_id in entries:
            amounts = session.exec(select(Posting.amount).where(Posting.entry_id == entry_id))
            assert sum(amounts) == 0
        assert service.balance(session, fund.id) == cash
        assert len(session.exec(select(LedgerEntry)).all()) == len(entries)
    engine.dispose()


@given(
    entry_type=st.sampled_from([t for t in EntryType if t is not EntryType.REVERSAL]),
    amount=st.integers(1, rules.MAX_AMOUNT),
)
def test_postings_of_each_entry_type_sum_to_zero(entry_type: EntryType, amount: int) -> None:
    postings = rules.postings_for(entry_type, amount)
    assert sum(value for _, value in postings) == 0
    assert sum(value for _, value in rules.reversal_of(postings)) == 0
    assert rules.cash_change(postings) + rules.cash_change(rules.reversal_of(postings)) == 0


def test_each_reason_is_given_once(admin: httpx.Client) -> None:
    """The body is declared by the route and by its club check: one reason, not two."""
    problem = assert_problem(admin.post("/api/v1/funds", json={"club_id": 1, "kind": "x"}), 422)
    assert [error["field"] for error in problem["errors"]] == ["kind"]


def test_funds_count_on_the_dates_their_entries_record_not_when_they_were_typed_in(
    admin: httpx.Client,
) -> None:
    """An account book of 2018 entered today: both funds held, and their capital, in 2018."""
    club = make_club(admin)
    for kind in ("income_generation", "activity"):
        fund_id = open_fund(admin, club["id"], kind)["id"]
        assert capital(admin, fund_id, 10_000_000, occurred_on="2018-03-01").status_code == 201

    def figures(on: str) -> tuple[int, int, int]:
        response = admin.post("/api/v1/loans/indicators", json={"club_ids": [club["id"]], "on": on})
        assert response.status_code == 200, response.text
        body = response.json()
        return body["clubs_with_funds"], body["clubs_with_both_funds"], body["fund_capital"]

    assert figures("2018-12-31") == (1, 1, 20_000_000)
    assert figures("2018-02-28") == (0, 0, 0)
