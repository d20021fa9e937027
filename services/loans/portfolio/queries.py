"""Portfolio figures for any date, set-based over the loans and bank records of an area.

Instalments and repayments carry cumulative totals, so "due by D" and "paid by D" are each a
`max` over one loan's rows; nothing is replayed in Python. The programme indicators need less
(outstanding, PAR30 and borrowers, no repayment rate): `money_figures` reads a loan's standing
from the loan itself whenever the date is on or after its last repayment (`standing.py`).
"""

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Select,
    String,
    and_,
    bindparam,
    case,
    func,
    literal,
    null,
    or_,
    select,
    text,
    union,
    union_all,
)
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from common.db import tune_for_report
from services.loans.bank.models import BankLoan, BankLoanVersion
from services.loans.bank.rules import BankLoanStatus as BankStatus
from services.loans.bank.rules import Outcome
from services.loans.lending.models import Loan, LoanInstalment, LoanRepayment
from services.loans.lending.rules import LoanStatus
from services.loans.portfolio.standing import PAR_DAYS

SPENT = (LoanStatus.DISBURSED.value, LoanStatus.CLOSED.value, LoanStatus.WRITTEN_OFF.value)
BANK_OUTSTANDING = (BankStatus.ACTIVE.value, BankStatus.OVERDUE.value)
APPLIED_POSTINGS = (Outcome.CREATED.value, Outcome.UPDATED.value)


@dataclass(frozen=True)
class Area:
    """Which loans count: conditions on a club loan and on a bank record."""

    club_loans: ColumnElement[bool]
    bank_loans: ColumnElement[bool]


def _latest(column: Any, table: Any, day: Any, on: date, *order: Any) -> ColumnElement[int]:
    """The loan's `column` on its newest row dated on or before `on` (newest by `order`): one
    index-only probe (the cumulative totals only grow, so the newest row holds the total)."""
    return func.coalesce(
        select(column)
        .where(table.loan_id == Loan.id, day <= on)
        .order_by(*order)
        .limit(1)
        .correlate(Loan)
        .scalar_subquery(),
        0,
    )


def club_loan_rows(area: Area, on: date, repayment_rate: bool = True) -> Select[*tuple[Any, ...]]:
    """One row per loan disbursed by `on`: its figures on that date (without what is due and
    repaid unless `repayment_rate`, which saves two probes per loan). A loan repaid since
    `on` is replayed from its schedule and repayments (six probes); the others read what was
    paid and whether they are late from their own row, and only probe what was due."""
    late = on - timedelta(days=PAR_DAYS + 1)
    due_on, paid_on = col(LoanInstalment.due_on), col(LoanRepayment.paid_on)
    # A loan's instalments fall on distinct days; repayments may share one, so the id decides.
    by_due = (due_on.desc(),)
    by_paid = (paid_on.desc(), col(LoanRepayment.id).desc())
    instalment, repayment = LoanInstalment, LoanRepayment
    if repayment_rate:
        due_principal = _latest(instalment.cumulative_principal, instalment, due_on, on, *by_due)
        due_interest = _latest(instalment.cumulative_interest, instalment, due_on, on, *by_due)
    else:
        due_principal = due_interest = literal(0)
    # Not repaid since `on`: the loan's own running totals and standing are its figures then
    # (`standing.py`), and only what is due needs a probe. CASE runs a probe only when needed.
    known = or_(col(Loan.last_paid_on).is_(None), col(Loan.last_paid_on) <= on)

    def replayed(figure: ColumnElement[int], own: Any) -> ColumnElement[int]:
        return case((known, own), else_=figure)

    late_principal = replayed(
        _latest(instalment.cumulative_principal, instalment, due_on, late, *by_due), 0
    )
    late_interest = replayed(
        _latest(instalment.cumulative_interest, instalment, due_on, late, *by_due), 0
    )
    paid_principal = replayed(
        _latest(repayment.cumulative_principal, repayment, paid_on, on, *by_paid),
        col(Loan.principal_repaid),
    )
    paid_interest = replayed(
        _latest(repayment.cumulative_interest, repayment, paid_on, on, *by_paid),
        col(Loan.interest_paid),
    )
    per_loan = (
        select(
            col(Loan.member_id).label("member_id"),
            col(Loan.province_code).label("province_code"),
            col(Loan.principal).label("principal"),
            and_(col(Loan.written_off_on).is_not(None), col(Loan.written_off_on) <= on).label(
                "written_off"
            ),
            known.label("known"),
            (col(Loan.late_from) <= on).label("late_by_standing"),
            due_principal.label("due_principal"),
            due_interest.label("due_interest"),
            late_principal.label("late_principal"),
            late_interest.label("late_interest"),
            paid_principal.label("paid_principal"),
            paid_interest.label("paid_interest"),
        )
        .where(area.club_loans, col(Loan.status).in_(SPENT), col(Loan.disbursed_on) <= on)
        .cte("per_loan")
        # Computed once per loan: inlined, PostgreSQL would probe again for every expression
        # that uses a figure (outstanding appears in four of them).
        .prefix_with("MATERIALIZED", dialect="postgresql")
    )
    loan = per_loan.c
    outstanding = case((loan.written_off, 0), else_=loan.principal - loan.paid_principal)
    is_late = case(
        (loan.known, loan.late_by_standing),
        else_=or_(
            loan.paid_principal < loan.late_principal, loan.paid_interest < loan.late_interest
        ),
    )
    due_total = loan.due_principal + loan.due_interest
    paid_total = loan.paid_principal + loan.paid_interest
    return select(
        loan.member_id,
        loan.province_code,
        outstanding.label("outstanding"),
        case((is_late, outstanding), else_=0).label("par30"),
        due_total.label("due"),
        case((paid_total < due_total, paid_total), else_=due_total).label("repaid"),
        case((loan.written_off, loan.principal - loan.paid_principal), else_=0).label(
            "written_off"
        ),
    )


def _newest_posting(on: date) -> Any:
    """The id of the bank record's newest applied posting as of `on` (applied postings only
    move forward, so the highest id is the newest)."""
    version = aliased(BankLoanVersion)
    return (
        select(func.max(version.id))
        .where(
            col(version.bank_loan_id) == col(BankLoan.id),
            col(version.as_of) <= on,
            col(version.outcome).in_(APPLIED_POSTINGS),
        )
        .correlate(BankLoan)
        .scalar_subquery()
    )


def bank_borrower_rows(area: Area, on: date) -> Select[*tuple[Any, ...]]:
    """The borrower of each bank record outstanding on `on` by the bank's figures as of then:
    the same records as `bank_loan_rows`, in one pass over the covering index; the history is
    read only for records whose newest figures are later than `on`."""
    then = BankLoanVersion
    outstanding_then = (
        select(col(then.id))
        .where(
            col(then.id) == _newest_posting(on),
            col(then.status).in_(BANK_OUTSTANDING),
            col(then.outstanding_principal) > 0,
        )
        .exists()
    )
    outstanding = case(
        (
            col(BankLoan.as_of) <= on,
            and_(
                col(BankLoan.status).in_(BANK_OUTSTANDING), col(BankLoan.outstanding_principal) > 0
            ),
        ),
        else_=outstanding_then,
    )
    return select(col(BankLoan.member_id).label("member_id")).where(
        col(BankLoan.province_code).is_not(None),
        area.bank_loans,
        col(BankLoan.disbursed_on) <= on,
        outstanding,
    )


def bank_loan_rows(area: Area, on: date) -> Select[*tuple[Any, ...]]:
    """One row per bank record disbursed by `on`, with the bank's figures as of that date.

    Records whose newest figures are later than `on` take their newest applied posting as of
    `on` from the history (applied postings only move forward, so the highest id is the newest).
    """
    # Unmatched records are not (yet) known to be club members: they count nowhere here. A
    # matched loan has its club's place, which is also the covering index's condition.
    matched = col(BankLoan.province_code).is_not(None)
    current: Select[*tuple[Any, ...]] = select(
        col(BankLoan.member_id).label("member_id"),
        col(BankLoan.province_code).label("province_code"),
        col(BankLoan.status).label("status"),
        col(BankLoan.outstanding_principal).label("outstanding"),
        col(BankLoan.overdue_amount).label("overdue"),
    ).where(matched, area.bank_loans, col(BankLoan.as_of) <= on, col(BankLoan.disbursed_on) <= on)
    newest_by_then = _newest_posting(on)
    earlier: Select[*tuple[Any, ...]] = (
        select(
            col(BankLoan.member_id).label("member_id"),
            col(BankLoan.province_code).label("province_code"),
            col(BankLoanVersion.status).label("status"),
            col(BankLoanVersion.outstanding_principal).label("outstanding"),
            col(BankLoanVersion.overdue_amount).label("overdue"),
        )
        .join(BankLoanVersion, col(BankLoanVersion.id) == newest_by_then)
        .where(matched, area.bank_loans, col(BankLoan.as_of) > on, col(BankLoan.disbursed_on) <= on)
    )
    both = current.union_all(earlier).subquery("bank")
    return select(both).where(both.c.status.in_(BANK_OUTSTANDING), both.c.outstanding > 0)


def open_club_loan_rows(area: Area, on: date) -> CompoundSelect[*tuple[Any, ...]]:
    """One row per loan open on `on` (disbursed, not yet closed nor written off): its member,
    province, outstanding principal and the part of it at risk (PAR30).

    A loan still being repaid whose last repayment is on or before `on` takes both from its
    own columns (`ix_loans_open` holds them all); the others (repaid since, closed or written
    off since) are computed from their schedules and repayments as in `club_loan_rows`.
    """
    loan = Loan
    # Inline, so the partial index's condition is seen to hold whatever the plan.
    is_open = col(loan.status) == bindparam(
        "open_status", LoanStatus.DISBURSED.value, literal_execute=True
    )
    last_paid_on = col(loan.last_paid_on)
    outstanding = col(loan.principal) - col(loan.principal_repaid)
    standing = select(
        col(loan.member_id).label("member_id"),
        col(loan.province_code).label("province_code"),
        outstanding.label("outstanding"),
        case((col(loan.late_from) <= on, outstanding), else_=0).label("par30"),
    ).where(
        area.club_loans,
        is_open,
        col(loan.disbursed_on) <= on,
        or_(last_paid_on.is_(None), last_paid_on <= on),
    )
    # Repaid, closed (on its last repayment) or written off after `on`; a write-off is never
    # dated before the last repayment, so the others were closed or written off by then.
    changed_since = or_(last_paid_on > on, col(loan.written_off_on) > on)
    replayed = club_loan_rows(
        Area(and_(area.club_loans, changed_since), area.bank_loans), on, repayment_rate=False
    ).subquery("replayed")
    return standing.union_all(
        select(
            replayed.c.member_id,
            replayed.c.province_code,
            replayed.c.outstanding,
            replayed.c.par30,
        )
    )


@dataclass(frozen=True)
class MoneyFigures:
    """The club and bank loan figures of the programme indicators, for one area and date."""

    loans_outstanding: int
    outstanding_principal: int
    par30_principal: int
    club_borrowers: int
    bank_borrowers: int
    members_with_loan: int


def money_figures(session: Session, area: Area, on: date) -> MoneyFigures:
    """Outstanding club loans, their principal and PAR30, and the members with an outstanding
    club loan, bank loan, or either (each member once), in one statement.

    The same figures as `figures` (tests/test_portfolio.py and tests/test_indicators.py hold
    both to them) with less work: today's club loans come from their standing, the bank
    records from one pass over their covering index, and each distinct count is one sort of
    member ids (cheaper than hashing or joining the bank's millions of rows).
    """
    loans = open_club_loan_rows(area, on).cte("open_club_loans")
    owing = loans.c.outstanding > 0
    bank = bank_borrower_rows(area, on).subquery("bank")
    borrowing = union_all(
        select(loans.c.member_id, literal(False).label("bank")).where(owing),
        select(bank.c.member_id, literal(True).label("bank")),
    ).subquery("borrowing")
    club_sums = select(
        func.count(case((owing, 1))).label("loans"),
        func.coalesce(func.sum(loans.c.outstanding), 0).label("outstanding"),
        func.coalesce(func.sum(loans.c.par30), 0).label("par30"),
        func.count(func.distinct(case((owing, loans.c.member_id)))).label("borrowers"),
    ).subquery("club_sums")
    member_sums = select(
        func.count(func.distinct(borrowing.c.member_id)).label("either"),
        func.count(func.distinct(case((borrowing.c.bank, borrowing.c.member_id)))).label("bank"),
    ).subquery("member_sums")
    statement = select(
        club_sums.c.loans,
        club_sums.c.outstanding,
        club_sums.c.par30,
        club_sums.c.borrowers,
        member_sums.c.bank,
        member_sums.c.either,
    ).select_from(club_sums.join(member_sums, literal(True)))
    if tune_for_report(session, 0):
        # Counting a million distinct members sorts them: in memory, not in temporary files.
        session.execute(text("SET LOCAL work_mem = '64MB'"))
    count, outstanding, par30, club, banked, either = (
        int(value) for value in session.execute(statement).one()
    )
    return MoneyFigures(
        loans_outstanding=count,
        outstanding_principal=outstanding,
        par30_principal=par30,
        club_borrowers=club,
        bank_borrowers=banked,
        members_with_loan=either,
    )


@dataclass
class Figures:
    """The raw sums of one area (or one province of it)."""

    loans_outstanding: int = 0
    outstanding_principal: int = 0
    par30_principal: int = 0
    due_to_date: int = 0
    repaid_to_date: int = 0
    written_off_principal: int = 0
    borrowers: int = 0
    bank_loans_outstanding: int = 0
    bank_outstanding_principal: int = 0
    bank_overdue_amount: int = 0
    bank_borrowers: int = 0
    members_with_loan: int = 0


CLUB, BANK, BORROWERS, EVERY_BORROWER = "club", "bank", "borrowers", "every_borrower"
VALUES = 7


def _part(kind: str, key: Any, *values: Any) -> Select[*tuple[Any, ...]]:
    padding = [null()] * (VALUES - len(values))
    return select(literal(kind).label("kind"), key.label("province_code"), *values, *padding)


def _grouped(query: Select[*tuple[Any, ...]], by_province: bool) -> Select[*tuple[Any, ...]]:
    return query.group_by(query.selected_columns.province_code) if by_province else query


def _statement(area: Area, on: date, by_province: bool) -> Any:
    """One statement for every sum, so each area's loans are read once (CTEs)."""
    loans = club_loan_rows(area, on).cte("club_loan_figures")
    bank = bank_loan_rows(area, on).cte("bank_loan_figures")
    none = literal(None, String)

    def key(rows: Any) -> Any:
        return rows.c.province_code if by_province else none

    outstanding = loans.c.outstanding > 0
    club = _part(
        CLUB,
        key(loans),
        func.count(case((outstanding, 1))),
        func.coalesce(func.sum(loans.c.outstanding), 0),
        func.coalesce(func.sum(loans.c.par30), 0),
        func.coalesce(func.sum(loans.c.due), 0),
        func.coalesce(func.sum(loans.c.repaid), 0),
        func.coalesce(func.sum(loans.c.written_off), 0),
        func.count(func.distinct(case((outstanding, loans.c.member_id)))),
    ).select_from(loans)
    banked = _part(
        BANK,
        key(bank),
        func.count(),
        func.coalesce(func.sum(bank.c.outstanding), 0),
        func.coalesce(func.sum(bank.c.overdue), 0),
        func.count(func.distinct(bank.c.member_id)),
    ).select_from(bank)
    borrowers = union(
        select(loans.c.member_id, loans.c.province_code).where(outstanding),
        select(bank.c.member_id, bank.c.province_code),
    ).subquery("borrowers")
    parts = [
        _grouped(club, by_province),
        _grouped(banked, by_province),
        _grouped(
            _part(BORROWERS, key(borrowers), func.count()).select_from(borrowers), by_province
        ),
    ]
    if by_province:
        # A member with loans in two provinces is one member of the whole.
        parts.append(_part(EVERY_BORROWER, none, func.count(func.distinct(borrowers.c.member_id))))
    return union_all(*parts)


def figures(
    session: Session, area: Area, on: date, by_province: bool
) -> tuple[Figures, dict[str, Figures]]:
    """The area's sums, and per province (keyed by code) when asked."""
    tune_for_report(session, 0)
    groups: dict[str | None, Figures] = {}
    every_borrower: int | None = None
    for kind, province, *raw in session.execute(_statement(area, on, by_province)):
        values = [int(value or 0) for value in raw]
        if kind == EVERY_BORROWER:
            every_borrower = values[0]
            continue
        sums = groups.setdefault(province, Figures())
        if kind == CLUB:
            (
                sums.loans_outstanding,
                sums.outstanding_principal,
                sums.par30_principal,
                sums.due_to_date,
                sums.repaid_to_date,
                sums.written_off_principal,
                sums.borrowers,
            ) = values
        elif kind == BANK:
            (
                sums.bank_loans_outstanding,
                sums.bank_outstanding_principal,
                sums.bank_overdue_amount,
                sums.bank_borrowers,
            ) = values[:4]
        else:
            sums.members_with_loan = values[0]
    total = Figures()
    for sums in groups.values():
        for name, value in vars(sums).items():
            setattr(total, name, getattr(total, name) + value)
    if every_borrower is not None:
        total.members_with_loan = every_borrower
    per_province = {code: sums for code, sums in groups.items() if code is not None}
    return total, per_province
