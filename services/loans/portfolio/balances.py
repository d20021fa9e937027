"""The portfolio's running balances (`models.py`): rebuilt by the worker when writes marked
them stale (`stale.py`), read by the national and provincial reports.

A report of an area the balances hold (the whole country, or one whole province) takes the
balances of the shards that are built and not stale on its date, and computes the stale
shards' figures from the loans as before (`queries.py`), restricted to their members: the
answer is the full recomputation's at every moment (tests/test_portfolio_balances.py), and
fast whenever little was written lately with an earlier date.
"""

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import fields
from datetime import date, datetime, timedelta
from typing import Any

from fastapi import FastAPI
from sqlalchemy import ColumnElement, and_, delete, exists, func, insert, or_, select, true, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col
from starlette.concurrency import run_in_threadpool

from common.auth import Principal
from common.clock import utcnow
from common.db import conflict_insert, reader
from common.observability.metrics import add_gauge
from common.scope import Kind, Reach, reach
from services.loans.bank.models import BankLoan, BankLoanVersion
from services.loans.lending.models import Loan, LoanInstalment, LoanRepayment
from services.loans.portfolio.models import (
    FIGURES,
    NATION,
    SHARDS,
    PortfolioArea,
    PortfolioBalance,
    PortfolioShard,
    PortfolioStale,
)
from services.loans.portfolio.queries import (
    APPLIED_POSTINGS,
    SPENT,
    Area,
    Figures,
    MoneyFigures,
    figures,
    money_figures,
)
from services.loans.portfolio.stale import shard_of
from services.loans.portfolio.timeline import BankRecord, Changes, ClubLoan, balances

log = logging.getLogger(__name__)
SETTLING_ROUNDS = 30
"""A stale shard is rebuilt once no write marked it for a round, or after this many rounds."""
CHUNK = 500
"""Rows per statement when balances and marks are written or deleted (SQLite's bound limit)."""


# --- The worker rebuilds stale shards ------------------------------------------------------


def _club_loans(session: Session, shard: int) -> list[ClubLoan]:
    spent = and_(
        col(Loan.status).in_(SPENT),
        col(Loan.disbursed_on).is_not(None),
        shard_of(col(Loan.member_id)) == shard,
    )
    loans = {
        loan_id: ClubLoan(member_id, province, principal, disbursed_on, written_off_on)
        for loan_id, member_id, province, principal, disbursed_on, written_off_on in (
            session.execute(
                select(
                    col(Loan.id),
                    col(Loan.member_id),
                    col(Loan.province_code),
                    col(Loan.principal),
                    col(Loan.disbursed_on),
                    col(Loan.written_off_on),
                ).where(spent)
            )
        )
    }
    instalment, repayment = LoanInstalment, LoanRepayment
    for loan_id, *totals in session.execute(
        select(
            col(instalment.loan_id),
            col(instalment.due_on),
            col(instalment.cumulative_principal),
            col(instalment.cumulative_interest),
        )
        .join(Loan, col(Loan.id) == col(instalment.loan_id))
        .where(spent)
        .order_by(col(instalment.loan_id), col(instalment.due_on))
    ):
        loans[loan_id].instalments.append((totals[0], totals[1], totals[2]))
    for loan_id, *totals in session.execute(
        select(
            col(repayment.loan_id),
            col(repayment.paid_on),
            col(repayment.cumulative_principal),
            col(repayment.cumulative_interest),
        )
        .join(Loan, col(Loan.id) == col(repayment.loan_id))
        .where(spent)
        .order_by(col(repayment.loan_id), col(repayment.paid_on), col(repayment.id))
    ):
        loans[loan_id].repayments.append((totals[0], totals[1], totals[2]))
    return list(loans.values())


def _bank_records(session: Session, shard: int) -> list[BankRecord]:
    counted = and_(
        col(BankLoan.province_code).is_not(None), shard_of(col(BankLoan.member_id)) == shard
    )
    records = {
        row.id: BankRecord(
            row.member_id,
            row.province_code,
            row.disbursed_on,
            row.as_of,
            (row.status, row.outstanding_principal, row.overdue_amount),
        )
        for row in session.execute(
            select(
                col(BankLoan.id),
                col(BankLoan.member_id),
                col(BankLoan.province_code),
                col(BankLoan.disbursed_on),
                col(BankLoan.as_of),
                col(BankLoan.status),
                col(BankLoan.outstanding_principal),
                col(BankLoan.overdue_amount),
            ).where(counted)
        )
    }
    version = BankLoanVersion
    for loan_id, posting_id, as_of, status, outstanding, overdue in session.execute(
        select(
            col(version.bank_loan_id),
            col(version.id),
            col(version.as_of),
            col(version.status),
            col(version.outstanding_principal),
            col(version.overdue_amount),
        )
        .join(BankLoan, col(BankLoan.id) == col(version.bank_loan_id))
        .where(counted, col(version.outcome).in_(APPLIED_POSTINGS))
    ):
        records[loan_id].earlier.append((posting_id, as_of, status, outstanding, overdue))
    return list(records.values())


def _needs_rebuild(shard: Any) -> ColumnElement[bool]:
    return or_(
        col(PortfolioShard.built_at).is_(None),
        exists().where(col(PortfolioStale.shard) == shard),
    )


def _lock(session: Session, shard: int) -> bool:
    """Takes the shard's row until the transaction ends; False when another worker holds it
    (PostgreSQL) or the shard was rebuilt meanwhile."""
    locked = session.execute(
        select(col(PortfolioShard.shard))
        .where(col(PortfolioShard.shard) == shard, _needs_rebuild(col(PortfolioShard.shard)))
        .with_for_update(skip_locked=True)
    ).first()
    return locked is not None


def rebuild(session: Session, shard: int) -> bool:
    """Recomputes one shard's balances from its loans and bank records, and drops the marks
    this read covers (a write committed meanwhile leaves its mark for the next rebuild), in
    one transaction. False when there was nothing to do."""
    if not _lock(session, shard):
        session.rollback()
        return False
    marks = list(
        session.scalars(select(col(PortfolioStale.id)).where(col(PortfolioStale.shard) == shard))
    )
    changes = Changes()
    for loan in _club_loans(session, shard):
        changes.add_club_loan(loan)
    for record in _bank_records(session, shard):
        changes.add_bank_record(record)
    changes.count_members()
    computed = balances(changes)
    session.execute(delete(PortfolioBalance).where(col(PortfolioBalance.shard) == shard))
    session.execute(delete(PortfolioArea).where(col(PortfolioArea.shard) == shard))
    rows = [
        {"shard": shard, "area": area, "day": day, **dict(zip(FIGURES, values, strict=True))}
        for area, day, values in computed
    ]
    for start in range(0, len(rows), CHUNK):
        session.execute(insert(PortfolioBalance), rows[start : start + CHUNK])
    areas = sorted({area for area, _, _ in computed})
    if areas:
        session.execute(insert(PortfolioArea), [{"shard": shard, "area": a} for a in areas])
    for start in range(0, len(marks), CHUNK):
        chunk = marks[start : start + CHUNK]
        session.execute(delete(PortfolioStale).where(col(PortfolioStale.id).in_(chunk)))
    session.execute(
        update(PortfolioShard).where(col(PortfolioShard.shard) == shard).values(built_at=utcnow())
    )
    session.commit()
    return True


def _ensure_shards(engine: Engine) -> None:
    with Session(engine) as session:
        statement = conflict_insert(session, PortfolioBalance.metadata.tables["portfolio_shards"])
        session.execute(
            statement.values([{"shard": shard} for shard in range(SHARDS)]).on_conflict_do_nothing()
        )
        session.commit()


def rebuild_stale(
    engine: Engine, settled_before: datetime | None = None, waited_since: datetime | None = None
) -> int:
    """Rebuilds every shard that was never built or is stale; how many were. With
    `settled_before`, only the stale shards marked last before it (the writes to them have
    settled), or first before `waited_since` (they have waited long enough)."""
    stale = PortfolioStale
    if settled_before is None:
        due_marks = select(col(stale.shard))
    else:
        due_marks = (
            select(col(stale.shard))
            .group_by(col(stale.shard))
            .having(
                or_(
                    func.max(stale.marked_at) < settled_before,
                    func.min(stale.marked_at) < (waited_since or settled_before),
                )
            )
        )
    with Session(reader(engine)) as session:
        due = list(
            session.scalars(
                select(col(PortfolioShard.shard))
                .where(
                    or_(
                        col(PortfolioShard.built_at).is_(None),
                        col(PortfolioShard.shard).in_(due_marks),
                    )
                )
                .order_by(col(PortfolioShard.shard))
            )
        )
    built = 0
    for shard in due:
        with Session(engine) as session:
            built += rebuild(session, shard)
    return built


async def keep_balances(app: FastAPI) -> None:
    """The app's worker: every `portfolio_balances_seconds` (0: never; the reports then compute
    every shard from the loans), rebuilds the stale shards no write has marked for that long,
    or that have waited `SETTLING_ROUNDS` rounds: a bank's stream of batches is built after it,
    once, rather than after each batch. Two copies may run: each shard is rebuilt under its
    row's lock, and a copy skips a shard the other holds."""
    interval = app.state.settings.portfolio_balances_seconds
    if interval <= 0:
        return
    await run_in_threadpool(_ensure_shards, app.state.engine)
    _watch(app)
    while True:
        try:
            now = utcnow()
            settled = now - timedelta(seconds=interval)
            waited = now - timedelta(seconds=interval * SETTLING_ROUNDS)
            built = await run_in_threadpool(rebuild_stale, app.state.engine, settled, waited)
            if built:
                log.info("portfolio balances rebuilt for %d shards", built)
        except Exception:  # The worker must outlive a database hiccup; it tries again.
            log.exception("portfolio balances rebuild failed")
        await asyncio.sleep(interval)


def _watch(app: FastAPI) -> None:
    """Gauges of the balances' freshness, read at each scrape: shards to rebuild, and how long
    the oldest write not yet in them has waited (0: none)."""
    engine = reader(app.state.engine)

    def unbuilt_or_stale() -> int:
        with Session(engine) as session:
            due = select(func.count()).where(_needs_rebuild(col(PortfolioShard.shard)))
            return int(session.execute(due.select_from(PortfolioShard)).scalar_one())

    def oldest_mark_age() -> float:
        with Session(engine) as session:
            oldest = session.execute(select(func.min(PortfolioStale.marked_at))).scalar()
        return max((utcnow() - oldest).total_seconds(), 0.0) if oldest is not None else 0.0

    add_gauge(
        app,
        "ishc_portfolio_shards_to_rebuild",
        "Shards of the portfolio's running balances never built or marked stale by a write.",
        unbuilt_or_stale,
    )
    add_gauge(
        app,
        "ishc_portfolio_oldest_stale_age_seconds",
        "Age of the oldest write not yet in the portfolio's running balances (0: none).",
        oldest_mark_age,
    )


# --- Reports read them ---------------------------------------------------------------------


def kept_area(principal: Principal, province: str | None) -> str | None:
    """The balances' area that is exactly what this caller asks (the nation, or a province
    the caller sees whole), or None when the balances do not hold it (a commune's officer,
    several provinces, a club)."""
    seen = reach(principal.role, Kind.CLUB_MONEY)
    if seen is Reach.ALL:
        return province if province is not None else NATION
    if seen is Reach.AREA and not principal.communes and province in principal.provinces:
        return province
    return None


def stale_shards(session: Session, on: date) -> list[int]:
    """The shards whose balances cannot answer for `on`: never built, or stale by then."""
    shards = PortfolioShard
    clean = set(
        session.scalars(
            select(col(shards.shard)).where(
                col(shards.built_at).is_not(None),
                ~exists().where(
                    col(PortfolioStale.shard) == col(shards.shard),
                    col(PortfolioStale.from_day) <= on,
                ),
            )
        )
    )
    return [shard for shard in range(SHARDS) if shard not in clean]


def _read(
    session: Session, on: date, stale: Sequence[int], areas: Sequence[str] | None
) -> dict[str, Figures]:
    """Each area's figures on `on` over the shards not stale: per shard, its newest balance
    dated on or before `on` (one probe of the primary key for each shard and area)."""
    balance, known = PortfolioBalance, PortfolioArea
    newest_day = (
        select(func.max(balance.day))
        .where(
            col(balance.shard) == col(known.shard),
            col(balance.area) == col(known.area),
            col(balance.day) <= on,
        )
        .correlate(known)
        .scalar_subquery()
    )
    where = []
    if stale:
        where.append(col(known.shard).not_in(stale))
    if areas is not None:
        where.append(col(known.area).in_(areas))
    newest = (
        select(col(known.shard), col(known.area), newest_day.label("day"))
        .where(*where)
        .subquery("newest")
    )
    statement = (
        select(col(balance.area), *(func.sum(getattr(balance, name)) for name in FIGURES))
        .join(
            newest,
            and_(
                col(balance.shard) == newest.c.shard,
                col(balance.area) == newest.c.area,
                col(balance.day) == newest.c.day,
            ),
        )
        .group_by(col(balance.area))
    )
    return {
        area: Figures(**{name: int(value) for name, value in zip(FIGURES, values, strict=True)})
        for area, *values in session.execute(statement)
    }


def _of_shards(area: Area, shards: Sequence[int]) -> Area:
    return Area(
        and_(area.club_loans, shard_of(col(Loan.member_id)).in_(shards)),
        and_(area.bank_loans, shard_of(col(BankLoan.member_id)).in_(shards)),
    )


def _add(total: Figures, more: Figures) -> None:
    for field in fields(Figures):
        setattr(total, field.name, getattr(total, field.name) + getattr(more, field.name))


def portfolio_figures(
    session: Session, area: Area, kept: str | None, on: date, by_province: bool
) -> tuple[Figures, dict[str, Figures]]:
    """`queries.figures`, from the balances where they answer (`kept`: `kept_area`)."""
    if kept is None:
        return figures(session, area, on, by_province)
    stale = stale_shards(session, on)
    read = _read(session, on, stale, None if by_province else [kept])
    if by_province:
        per_province = {code: sums for code, sums in read.items() if code != NATION}
        total = Figures()
        for sums in per_province.values():
            _add(total, sums)
        total.members_with_loan = read.get(NATION, Figures()).members_with_loan
    else:
        total, per_province = read.get(kept, Figures()), {}
    if stale:
        live_total, live_per_province = figures(session, _of_shards(area, stale), on, by_province)
        _add(total, live_total)
        for code, sums in live_per_province.items():
            _add(per_province.setdefault(code, Figures()), sums)
    return total, per_province


def portfolio_money(session: Session, area: Area, kept: str | None, on: date) -> MoneyFigures:
    """`queries.money_figures`, from the balances where they answer (`kept`: `kept_area`)."""
    if kept is None:
        return money_figures(session, area, on)
    stale = stale_shards(session, on)
    sums = _read(session, on, stale, [kept]).get(kept, Figures())
    money = MoneyFigures(
        loans_outstanding=sums.loans_outstanding,
        outstanding_principal=sums.outstanding_principal,
        par30_principal=sums.par30_principal,
        club_borrowers=sums.borrowers,
        bank_borrowers=sums.bank_borrowers,
        members_with_loan=sums.members_with_loan,
    )
    if not stale:
        return money
    live = money_figures(session, _of_shards(area, stale), on)
    return MoneyFigures(
        **{
            field.name: getattr(money, field.name) + getattr(live, field.name)
            for field in fields(MoneyFigures)
        }
    )


def differences(session: Session, on: date) -> list[tuple[str, str, int, int]]:
    """(province, figure, from the balances, from the loans) wherever the balances of the
    shards not stale on `on` differ from recomputing those shards: a write that changed
    figures without marking them stale (the reconciliation asks this of today, which the
    loans answer quickly from their standing)."""
    stale = stale_shards(session, on)
    clean = [shard for shard in range(SHARDS) if shard not in stale]
    if not clean:
        return []
    kept = _read(session, on, stale, None)
    _, recomputed = figures(session, _of_shards(Area(true(), true()), clean), on, True)
    found = []
    for province in sorted((set(kept) - {NATION}) | set(recomputed)):
        mine, theirs = kept.get(province, Figures()), recomputed.get(province, Figures())
        for name in FIGURES:
            if getattr(mine, name) != getattr(theirs, name):
                found.append((province, name, getattr(mine, name), getattr(theirs, name)))
    return found
