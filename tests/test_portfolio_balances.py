"""The portfolio's running balances give the figures the full recomputation gives: on randomly
chosen dates, for the nation, a province and the programme indicators, before and after
back-dated entries (a repayment dated in the past, a bank posting as of an earlier month, a
loan written off), whether the worker has rebuilt the stale shards yet or not.
"""

import random
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, func, select, true, update
from sqlmodel import Session, col

from common import clock
from common.clock import utcnow
from common.db import make_engine, normalise_url
from services.loans.bank.models import BankLoan
from services.loans.lending.models import Loan
from services.loans.portfolio.balances import (
    differences,
    portfolio_figures,
    portfolio_money,
    rebuild_stale,
    stale_shards,
)
from services.loans.portfolio.models import (
    NATION,
    SHARDS,
    PortfolioBalance,
    PortfolioShard,
    PortfolioStale,
)
from services.loans.portfolio.queries import Area, figures, money_figures
from services.loans.portfolio.stale import EVERY_DAY, mark_stale
from services.loans.reconciliation.ledger import ledger_check
from tests.factories import make_club, member_payload
from tests.support import wait_until
from tests.test_portfolio import RULES, bank_record, ok, post_bank, repay

QUANG_NINH = "22"
FIRST_DAY, LAST_DAY = date(2023, 11, 1), date(2027, 6, 30)
DATES = 12
SEED = 20261207


def lend(client: httpx.Client, club_id: int, member_id: int, amount: int, on: date) -> int:
    body = {
        "club_id": club_id,
        "member_id": member_id,
        "amount": amount,
        "term_months": 6,
        "applied_on": on.isoformat(),
        "purpose": "Buy a buffalo calf",
        "form": "cash",
    }
    loan = ok(client.post("/api/v1/loans", json=body), 201)
    ok(client.post(f"/api/v1/loans/{loan['id']}/approve"))
    disbursed = {"disbursed_on": (on + timedelta(days=5)).isoformat()}
    ok(client.post(f"/api/v1/loans/{loan['id']}/disburse", json=disbursed))
    return int(loan["id"])


@pytest.fixture(scope="module")
def book(admin: httpx.Client, as_role: Callable[..., httpx.Client]) -> dict[str, Any]:
    """Six members of a Quảng Ninh club: loans repaid on time, late, closed, written off, a
    member with two loans, and bank records posted twice."""
    communes = ok(
        admin.get(f"/api/v1/locations/provinces/{QUANG_NINH}/communes", params={"limit": 1})
    )
    club = make_club(admin, province_code=QUANG_NINH, commune_code=communes["items"][0]["code"])
    members = [
        ok(admin.post(f"/api/v1/clubs/{club['id']}/members", json=member_payload()), 201)
        for _ in range(6)
    ]
    opened = admin.post("/api/v1/funds", json={"club_id": club["id"], "kind": "income_generation"})
    assert opened.status_code in (200, 201), opened.text
    fund = opened.json()
    capital = {
        "amount": 60_000_000,
        "occurred_on": "2023-11-01",
        "origin": "seed",
        "reference": "seed",
    }
    ok(admin.post(f"/api/v1/funds/{fund['id']}/capital", json=capital), 201)
    ok(admin.put(f"/api/v1/funds/{fund['id']}/loan-rules", json=RULES), 201)
    ids = [member["id"] for member in members]
    on_time = lend(admin, club["id"], ids[0], 6_000_000, date(2024, 1, 10))
    for month in range(2, 8):
        repay(admin, on_time, 1_060_000, f"2024-{month:02d}-15")
    late = lend(admin, club["id"], ids[1], 3_000_000, date(2024, 3, 1))
    repay(admin, late, 530_000, "2024-04-06")
    written = lend(admin, club["id"], ids[2], 4_000_000, date(2024, 5, 1))
    repay(admin, written, 706_000, "2024-06-06")
    ok(
        admin.post(
            f"/api/v1/loans/{written}/write-off",
            json={"written_off_on": "2025-01-31", "reason": "the borrower moved away"},
        )
    )
    twice = [lend(admin, club["id"], ids[3], 2_000_000, date(2024, 9, day)) for day in (1, 20)]
    repay(admin, twice[0], 1_000_000, "2024-11-06")
    bank = as_role("bank", bank_code="VBSP_QN")
    for member, as_of, outstanding in (
        (members[3], "2024-06-30", 15_000_000),
        (members[4], "2024-12-31", 9_000_000),
    ):
        record = bank_record(member["national_id"], loan_number=f"QN-{uuid.uuid4().hex[:10]}")
        post_bank(bank, {**record, "as_of": as_of, "outstanding_principal": outstanding})
        post_bank(
            bank, {**record, "as_of": "2025-06-30", "outstanding_principal": 0, "status": "closed"}
        )
    return {"club": club, "members": members, "loans": {"late": late, "twice": twice}, "bank": bank}


@pytest.fixture(scope="module")
def loans_engine(stack: Any) -> Iterator[Engine]:
    engine = make_engine(normalise_url(stack.database_urls["loans"]))
    yield engine
    engine.dispose()


AREAS = {
    NATION: Area(true(), true()),
    QUANG_NINH: Area(
        col(Loan.province_code) == QUANG_NINH, col(BankLoan.province_code) == QUANG_NINH
    ),
}


def _dates(count: int) -> list[date]:
    chosen = random.Random(SEED + count)
    span = (LAST_DAY - FIRST_DAY).days
    return sorted(FIRST_DAY + timedelta(days=chosen.randrange(span)) for _ in range(count))


def assert_as_recomputed(engine: Engine, on: date) -> list[int]:
    """The balances' figures of `on` are the recomputation's; the shards that were stale."""
    with Session(engine) as session:
        stale = stale_shards(session, on)
        for kept, area in AREAS.items():
            by_province = kept == NATION
            total, provinces = portfolio_figures(session, area, kept, on, by_province)
            expected_total, expected_provinces = figures(session, area, on, by_province)
            assert asdict(total) == asdict(expected_total), (on, kept)
            for code in set(provinces) | set(expected_provinces):
                if code in provinces and code in expected_provinces:
                    assert asdict(provinces[code]) == asdict(expected_provinces[code]), (on, code)
                else:  # an area with nothing owed on the date may be listed by one side only
                    assert not any(asdict((provinces | expected_provinces)[code]).values())
            assert portfolio_money(session, area, kept, on) == money_figures(session, area, on)
    return stale


def settled(engine: Engine) -> datetime:
    """Rebuilds until every shard is built and no mark from before is left; when it began.

    The stack's own workers run meanwhile: one may hold a shard it is building (a rebuild here
    skips a locked shard), or mark one stale after a write it applies (a membership change, a
    match found later). Those marks are the next rebuild's: `left_stale` leaves them out."""
    began = utcnow()

    def done() -> bool:
        rebuild_stale(engine)
        with Session(engine) as session:
            unbuilt = select(col(PortfolioShard.shard)).where(
                col(PortfolioShard.built_at).is_(None)
            )
            older = select(col(PortfolioStale.id)).where(col(PortfolioStale.marked_at) < began)
            return (
                session.scalars(unbuilt).first() is None and session.scalars(older).first() is None
            )

    wait_until(done, "every shard rebuilt")
    return began


def left_stale(engine: Engine, on: date, began: datetime) -> list[int]:
    """The shards stale for `on` (figures checked against the recomputation) that a rebuild
    begun at `began` should have cleared: not those marked by a write after it."""
    stale = assert_as_recomputed(engine, on)
    with Session(engine) as session:
        later = set(
            session.scalars(
                select(col(PortfolioStale.shard)).where(col(PortfolioStale.marked_at) >= began)
            )
        )
    return [shard for shard in stale if shard not in later]


def test_the_balances_are_the_recomputation_on_any_date(
    book: dict[str, Any], loans_engine: Engine
) -> None:
    began = settled(loans_engine)
    for on in _dates(DATES):
        assert left_stale(loans_engine, on, began) == [], on


def test_back_dated_entries_make_their_days_stale_until_rebuilt(
    book: dict[str, Any], loans_engine: Engine, admin: httpx.Client
) -> None:
    rebuild_stale(loans_engine)
    repay(admin, book["loans"]["late"], 530_000, "2024-08-06")  # months late, recorded today
    record = bank_record(
        book["members"][5]["national_id"], loan_number=f"QN-{uuid.uuid4().hex[:10]}"
    )
    late_posting = {"disbursed_on": "2024-08-20", "as_of": "2024-10-31"}
    post_bank(book["bank"], {**record, **late_posting, "outstanding_principal": 7_000_000})
    before, after = date(2024, 8, 5), date(2024, 8, 6)
    with Session(loans_engine) as session:
        assert stale_shards(session, before) == []
        assert stale_shards(session, after) != []  # the repayment's day on: recomputed
    for on in [before, after, *_dates(DATES // 2)]:
        assert_as_recomputed(loans_engine, on)
    began = settled(loans_engine)
    for on in [before, after, *_dates(DATES // 2)]:
        assert left_stale(loans_engine, on, began) == []


def test_the_portfolio_answers_the_same_through_the_gateway(
    book: dict[str, Any], admin: httpx.Client, loans_engine: Engine
) -> None:
    """The route takes the balances for the country and a province, and the club's figures
    (which the balances do not hold) from the loans: they add up as before."""
    rebuild_stale(loans_engine)
    on = {"on": "2024-10-01"}
    club = ok(admin.get("/api/v1/loans/portfolio", params={"club_id": book["club"]["id"], **on}))
    province = ok(admin.get("/api/v1/loans/portfolio", params={"province": QUANG_NINH, **on}))
    country = ok(admin.get("/api/v1/loans/portfolio", params=on))
    by_province = {item["province_code"]: item for item in country["by_province"]}
    assert province["club_loans"] == club["club_loans"] == by_province[QUANG_NINH]["club_loans"]
    assert province["bank_loans"] == club["bank_loans"] == by_province[QUANG_NINH]["bank_loans"]
    assert club["club_loans"]["loans_outstanding"] == 4


def test_two_workers_build_each_shard_once(book: dict[str, Any], loans_engine: Engine) -> None:
    """Two copies of the worker at once (beside the stack's own): each shard is built by one of
    them, under its row's lock, and the balances are the recomputation's."""
    with Session(loans_engine) as session:
        session.execute(update(PortfolioShard).values(built_at=None))
        session.commit()
    with ThreadPoolExecutor(max_workers=2) as pool:
        built = list(pool.map(lambda _: rebuild_stale(loans_engine), range(2)))
    assert sum(built) <= SHARDS
    began = settled(loans_engine)  # and whatever the stack's worker had started meanwhile
    for on in _dates(DATES // 2):
        assert left_stale(loans_engine, on, began) == []


def test_the_reconciliation_finds_balances_a_write_did_not_mark(
    book: dict[str, Any], loans_engine: Engine
) -> None:
    rebuild_stale(loans_engine)
    today = clock.today()
    balance = PortfolioBalance
    with Session(loans_engine) as session:
        newest = session.execute(
            select(col(balance.shard), func.max(balance.day))
            .where(col(balance.area) == QUANG_NINH, col(balance.day) <= today)
            .group_by(col(balance.shard))
            .limit(1)
        ).one()
        session.execute(
            update(balance)
            .where(
                col(balance.shard) == newest[0],
                col(balance.area) == QUANG_NINH,
                col(balance.day) == newest[1],
            )
            .values(outstanding_principal=balance.outstanding_principal + 1)
        )
        session.commit()
        found = ledger_check(session)
    reasons = [item.reason for item in found.breaks if item.kind == "portfolio_balances"]
    assert len(reasons) == 1 and "outstanding_principal" in reasons[0], reasons
    with Session(loans_engine) as session:
        mark_stale(session, [(newest[0], EVERY_DAY)])  # a member of that shard
        session.commit()
    rebuild_stale(loans_engine)
    with Session(loans_engine) as session:
        assert differences(session, today) == []


def test_the_worker_shows_the_balances_freshness_in_its_metrics(
    book: dict[str, Any], loans_engine: Engine, stack: Any, admin: httpx.Client
) -> None:
    rebuild_stale(loans_engine)
    repay(admin, book["loans"]["twice"][1], 353_333, "2024-10-20")  # marks its shard stale
    metrics = httpx.get(stack.url("loans") + "/metrics").text
    values = {
        line.split()[0]: float(line.split()[1])
        for line in metrics.splitlines()
        if line.startswith("ishc_portfolio_")
    }
    # the stack's worker may have rebuilt that shard already (it waits a quiet second)
    assert 0 <= values["ishc_portfolio_shards_to_rebuild"] <= SHARDS
    assert values["ishc_portfolio_oldest_stale_age_seconds"] >= 0
