"""Portfolio figures for any date, set-based over the loans and bank records of an area.

Instalments and repayments carry cumulative totals, so "due by D" and "paid by D" are each a
`max` over one loan's rows; nothing is replayed in Python.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, literal, or_, select, union
from sqlalchemy.orm import aliased
from sqlmodel import Session, col

from services.loans.bank.models import BankLoan, BankLoanVersion
from services.loans.bank.rules import LoanStatus as BankStatus
from services.loans.bank.rules import Outcome
from services.loans.lending.models import Loan, LoanInstalment, LoanRepayment
from services.loans.lending.rules import LoanStatus

PAR_DAYS = 30
SPENT = (LoanStatus.DISBURSED.value, LoanStatus.CLOSED.value, LoanStatus.WRITTEN_OFF.value)
BANK_OUTSTANDING = (BankStatus.ACTIVE.value, BankStatus.OVERDUE.value)
APPLIED_POSTINGS = (Outcome.CREATED.value, Outcome.UPDATED.value)


@dataclass(frozen=True)
class Area:
    """Which loans count: conditions on a club loan and on a bank record."""

    club_loans: ColumnElement[bool]
    bank_loans: ColumnElement[bool]


def _max_if(condition: ColumnElement[bool], value: Any) -> ColumnElement[int]:
    return func.coalesce(func.max(case((condition, value))), 0)


def club_loan_rows(area: Area, on: date) -> Select:
    """One row per loan disbursed by `on`: its figures on that date."""
    late = on - timedelta(days=PAR_DAYS + 1)
    due = (
        select(
            col(LoanInstalment.loan_id).label("loan_id"),
            _max_if(col(LoanInstalment.due_on) <= on, LoanInstalment.cumulative_principal).label(
                "principal"
            ),
            _max_if(col(LoanInstalment.due_on) <= on, LoanInstalment.cumulative_interest).label(
                "interest"
            ),
            _max_if(col(LoanInstalment.due_on) <= late, LoanInstalment.cumulative_principal).label(
                "late_principal"
            ),
            _max_if(col(LoanInstalment.due_on) <= late, LoanInstalment.cumulative_interest).label(
                "late_interest"
            ),
        )
        .join(Loan, col(Loan.id) == col(LoanInstalment.loan_id))
        .where(area.club_loans, col(LoanInstalment.due_on) <= on)
        .group_by(col(LoanInstalment.loan_id))
        .subquery("due")
    )
    paid = (
        select(
            col(LoanRepayment.loan_id).label("loan_id"),
            func.max(LoanRepayment.cumulative_principal).label("principal"),
            func.max(LoanRepayment.cumulative_interest).label("interest"),
        )
        .join(Loan, col(Loan.id) == col(LoanRepayment.loan_id))
        .where(area.club_loans, col(LoanRepayment.paid_on) <= on)
        .group_by(col(LoanRepayment.loan_id))
        .subquery("paid")
    )
    paid_principal = func.coalesce(paid.c.principal, 0)
    paid_interest = func.coalesce(paid.c.interest, 0)
    written_off = and_(col(Loan.written_off_on).is_not(None), col(Loan.written_off_on) <= on)
    outstanding = case((written_off, 0), else_=col(Loan.principal) - paid_principal)
    due_total = func.coalesce(due.c.principal, 0) + func.coalesce(due.c.interest, 0)
    paid_total = paid_principal + paid_interest
    is_late = or_(
        paid_principal < func.coalesce(due.c.late_principal, 0),
        paid_interest < func.coalesce(due.c.late_interest, 0),
    )
    return (
        select(
            col(Loan.member_id).label("member_id"),
            col(Loan.province_code).label("province_code"),
            outstanding.label("outstanding"),
            case((is_late, outstanding), else_=0).label("par30"),
            due_total.label("due"),
            case((paid_total < due_total, paid_total), else_=due_total).label("repaid"),
            case((written_off, col(Loan.principal) - paid_principal), else_=0).label("written_off"),
        )
        .outerjoin(due, due.c.loan_id == col(Loan.id))
        .outerjoin(paid, paid.c.loan_id == col(Loan.id))
        .where(
            area.club_loans,
            col(Loan.status).in_(SPENT),
            col(Loan.disbursed_on) <= on,
        )
    )


def bank_loan_rows(area: Area, on: date) -> Select:
    """One row per bank record disbursed by `on`, with the bank's figures as of that date.

    Records whose newest figures are later than `on` take their newest applied posting as of
    `on` from the history (applied postings only move forward, so the highest id is the newest).
    """
    current = select(
        col(BankLoan.member_id).label("member_id"),
        col(BankLoan.province_code).label("province_code"),
        col(BankLoan.status).label("status"),
        col(BankLoan.outstanding_principal).label("outstanding"),
        col(BankLoan.overdue_amount).label("overdue"),
    ).where(area.bank_loans, col(BankLoan.as_of) <= on, col(BankLoan.disbursed_on) <= on)
    version = aliased(BankLoanVersion)
    newest_by_then = (
        select(func.max(version.id))
        .where(
            version.bank_loan_id == BankLoan.id,
            version.as_of <= on,
            col(version.outcome).in_(APPLIED_POSTINGS),
        )
        .correlate(BankLoan)
        .scalar_subquery()
    )
    earlier = (
        select(
            col(BankLoan.member_id).label("member_id"),
            col(BankLoan.province_code).label("province_code"),
            col(BankLoanVersion.status).label("status"),
            col(BankLoanVersion.outstanding_principal).label("outstanding"),
            col(BankLoanVersion.overdue_amount).label("overdue"),
        )
        .join(BankLoanVersion, col(BankLoanVersion.id) == newest_by_then)
        .where(area.bank_loans, col(BankLoan.as_of) > on, col(BankLoan.disbursed_on) <= on)
    )
    both = current.union_all(earlier).subquery("bank")
    # Unmatched records are not (yet) known to be club members: they count nowhere here.
    return select(both).where(
        both.c.member_id.is_not(None), both.c.status.in_(BANK_OUTSTANDING), both.c.outstanding > 0
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


def _grouped(query: Select, by_province: bool) -> Select:
    return query.group_by(query.selected_columns.province_code) if by_province else query


def figures(
    session: Session, area: Area, on: date, by_province: bool
) -> tuple[Figures, dict[str, Figures]]:
    """The area's sums, and per province (keyed by code) when asked."""
    loans = club_loan_rows(area, on).subquery("loans")
    bank = bank_loan_rows(area, on).subquery("bank_rows")

    def key(rows: Any) -> ColumnElement[Any]:
        return rows.c.province_code if by_province else literal(None)

    groups: dict[str | None, Figures] = {}
    club_query = select(
        key(loans).label("province_code"),
        func.count().filter(loans.c.outstanding > 0),
        func.coalesce(func.sum(loans.c.outstanding), 0),
        func.coalesce(func.sum(loans.c.par30), 0),
        func.coalesce(func.sum(loans.c.due), 0),
        func.coalesce(func.sum(loans.c.repaid), 0),
        func.coalesce(func.sum(loans.c.written_off), 0),
        func.count(func.distinct(case((loans.c.outstanding > 0, loans.c.member_id)))),
    )
    for province, *values in session.execute(_grouped(club_query, by_province)):
        sums = groups.setdefault(province, Figures())
        (
            sums.loans_outstanding,
            sums.outstanding_principal,
            sums.par30_principal,
            sums.due_to_date,
            sums.repaid_to_date,
            sums.written_off_principal,
            sums.borrowers,
        ) = (int(value or 0) for value in values)
    bank_query = select(
        key(bank).label("province_code"),
        func.count(),
        func.coalesce(func.sum(bank.c.outstanding), 0),
        func.coalesce(func.sum(bank.c.overdue), 0),
        func.count(func.distinct(bank.c.member_id)),
    )
    for province, *values in session.execute(_grouped(bank_query, by_province)):
        sums = groups.setdefault(province, Figures())
        (
            sums.bank_loans_outstanding,
            sums.bank_outstanding_principal,
            sums.bank_overdue_amount,
            sums.bank_borrowers,
        ) = (int(value or 0) for value in values)
    borrowers = union(
        select(loans.c.member_id, loans.c.province_code).where(loans.c.outstanding > 0),
        select(bank.c.member_id, bank.c.province_code),
    ).subquery("borrowers")
    borrower_query = select(key(borrowers).label("province_code"), func.count()).select_from(
        borrowers
    )
    for province, count in session.execute(_grouped(borrower_query, by_province)):
        groups.setdefault(province, Figures()).members_with_loan = int(count)
    total = Figures()
    for sums in groups.values():
        for name, value in vars(sums).items():
            setattr(total, name, getattr(total, name) + value)
    if by_province:
        # A member with loans in two provinces is one member of the whole.
        members = select(borrowers.c.member_id).distinct().subquery()
        total.members_with_loan = int(
            session.execute(select(func.count()).select_from(members)).scalar_one()
        )
    per_province = {code: sums for code, sums in groups.items() if code is not None}
    return total, per_province
