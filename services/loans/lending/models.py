"""Tables of member loans: each club's loan rules, loans, their schedules and repayments.

Built so that portfolio figures for any date are set-based SQL over millions of loans: a loan
carries its club and place (copied from the fund) and its life-cycle dates; each instalment
carries its cumulative principal and interest, and each repayment the cumulative amounts paid,
so "due by D" and "paid by D" are each one index lookup per loan. A loan also carries its
standing (last repayment, late from), so figures of a date on or after its last repayment need
no lookup at all.
"""

from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    text,
)
from sqlmodel import Field

from common.clock import utcnow
from common.db import UTCDateTime
from common.sync import stamp_field
from services.loans.ledger.models import LedgerEntry
from services.loans.models import LoansBase

CUMULATIVE_COLUMNS = ["cumulative_principal", "cumulative_interest"]
"""Carried in the (loan, date) indexes, so "due by D" and "paid by D" are index-only probes."""
OPEN = "status = 'disbursed'"
OPEN_LOAN_COLUMNS = [
    "id",
    "club_id",
    "member_id",
    "disbursed_on",
    "principal",
    "principal_repaid",
    "interest_paid",
    "last_paid_on",
    "late_from",
]


def _fund_id() -> Column[int]:
    return Column(Integer, ForeignKey("funds.id"), nullable=False)


def _loan_id() -> Column[int]:
    return Column(Integer, ForeignKey("loans.id"), nullable=False)


def _entry_id() -> Column[int]:
    return Column(Integer, ForeignKey("ledger_entries.id"), nullable=True)


class LoanRules(LoansBase, table=True):
    """A club's loan regulation on its income-generation fund; loans copy it when applied for."""

    __tablename__ = "loan_rules"
    __table_args__ = (
        Index("uq_loan_rules_fund_id", "fund_id", unique=True),
        CheckConstraint("monthly_rate_ppm BETWEEN 0 AND 50000", name="rate_in_range"),
        CheckConstraint("max_term_months BETWEEN 1 AND 120", name="term_in_range"),
        CheckConstraint("max_amount > 0", name="max_amount_positive"),
    )

    id: int | None = Field(default=None, primary_key=True)
    fund_id: int = Field(sa_column=_fund_id())
    monthly_rate_ppm: int
    interest_method: str = Field(max_length=30)
    repayment_frequency: str = Field(max_length=30)
    max_term_months: int
    max_amount: int = Field(sa_type=BigInteger)
    set_by: str = Field(max_length=200)
    set_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class Loan(LoansBase, table=True):
    """A member's loan from the club's income-generation fund, with who did what and when.

    `principal_repaid` and `interest_paid` are running totals kept with each repayment (under
    the loan's lock), so today's outstanding principal needs no aggregation; figures for past
    dates come from the repayments' cumulative columns.
    """

    __tablename__ = "loans"
    __table_args__ = (
        Index("ix_loans_province_code_status", "province_code", "status"),
        # Covering: an area's portfolio reads its loans from the index alone.
        Index(
            "ix_loans_portfolio",
            "province_code",
            "commune_code",
            postgresql_include=[
                "id",
                "club_id",
                "member_id",
                "status",
                "disbursed_on",
                "written_off_on",
                "principal",
            ],
        ),
        # Covering, for today's figures: the loans still being repaid with their standing
        # (see `services.loans.portfolio.standing`), read from the index alone.
        Index(
            "ix_loans_open",
            "province_code",
            "commune_code",
            postgresql_include=OPEN_LOAN_COLUMNS,
            postgresql_where=text(OPEN),
            sqlite_where=text(OPEN),
        ),
        # Figures of a past date look up the loans repaid, closed or written off since.
        Index(
            "ix_loans_last_paid_on",
            "last_paid_on",
            postgresql_where=text("last_paid_on IS NOT NULL"),
            sqlite_where=text("last_paid_on IS NOT NULL"),
        ),
        Index(
            "ix_loans_written_off_on",
            "written_off_on",
            postgresql_where=text("written_off_on IS NOT NULL"),
            sqlite_where=text("written_off_on IS NOT NULL"),
        ),
        Index("ix_loans_club_id", "club_id"),
        Index("ix_loans_member_id", "member_id"),
        Index("ix_loans_fund_id", "fund_id"),
        CheckConstraint("principal > 0", name="principal_positive"),
        CheckConstraint("principal_repaid BETWEEN 0 AND principal", name="repaid_in_range"),
    )

    id: int | None = Field(default=None, primary_key=True)
    sync_stamp: int | None = stamp_field()
    fund_id: int = Field(sa_column=_fund_id())
    club_id: int
    member_id: int
    province_code: str = Field(max_length=2)
    commune_code: str = Field(max_length=5)
    status: str = Field(max_length=20)
    form: str = Field(max_length=20)
    in_kind_description: str | None = Field(default=None, max_length=500)
    purpose: str = Field(max_length=500)
    principal: int = Field(sa_type=BigInteger)
    term_months: int
    monthly_rate_ppm: int
    interest_method: str = Field(max_length=30)
    repayment_frequency: str = Field(max_length=30)
    applied_on: date
    applied_by: str = Field(max_length=200)
    applied_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    decided_by: str | None = Field(default=None, max_length=200)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    rejection_reason: str | None = Field(default=None, max_length=500)
    disbursed_on: date | None = None
    matures_on: date | None = None
    disbursed_by: str | None = Field(default=None, max_length=200)
    disbursed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    principal_repaid: int = Field(default=0, sa_type=BigInteger)
    interest_paid: int = Field(default=0, sa_type=BigInteger)
    last_paid_on: date | None = Field(default=None, description="The last repayment's day.")
    late_from: date | None = Field(
        default=None,
        description="From this day the loan is more than 30 days late unless more is paid "
        "(kept with each repayment, see `services.loans.portfolio.standing`).",
    )
    closed_on: date | None = None
    written_off_on: date | None = None
    written_off_principal: int | None = Field(default=None, sa_type=BigInteger)
    write_off_reason: str | None = Field(default=None, max_length=500)
    written_off_by: str | None = Field(default=None, max_length=200)
    written_off_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    version: int = 1


class LoanInstalment(LoansBase, table=True):
    """One instalment of a disbursed loan's schedule, with the totals due through it."""

    __tablename__ = "loan_instalments"
    __table_args__ = (
        Index("uq_loan_instalments_loan_id_number", "loan_id", "number", unique=True),
        Index(
            "ix_loan_instalments_loan_id_due_on",
            "loan_id",
            "due_on",
            postgresql_include=CUMULATIVE_COLUMNS,
        ),
        # The overdue watch reads the instalments that fell due lately, by date.
        Index("ix_loan_instalments_due_on", "due_on"),
    )

    id: int | None = Field(default=None, primary_key=True)
    loan_id: int = Field(sa_column=_loan_id())
    number: int
    due_on: date
    principal: int = Field(sa_type=BigInteger)
    interest: int = Field(sa_type=BigInteger)
    cumulative_principal: int = Field(sa_type=BigInteger)
    cumulative_interest: int = Field(sa_type=BigInteger)


class LoanRepayment(LoansBase, table=True):
    """Money a borrower paid back, split into interest and principal, with totals through it."""

    __tablename__ = "loan_repayments"
    __table_args__ = (
        Index(
            "ix_loan_repayments_loan_id_paid_on",
            "loan_id",
            "paid_on",
            "id",
            postgresql_include=CUMULATIVE_COLUMNS,
        ),
        CheckConstraint("amount > 0 AND amount = principal + interest", name="parts_add_up"),
    )

    id: int | None = Field(default=None, primary_key=True)
    sync_stamp: int | None = stamp_field()
    loan_id: int = Field(sa_column=_loan_id())
    paid_on: date
    amount: int = Field(sa_type=BigInteger)
    principal: int = Field(sa_type=BigInteger)
    interest: int = Field(sa_type=BigInteger)
    cumulative_principal: int = Field(sa_type=BigInteger)
    cumulative_interest: int = Field(sa_type=BigInteger)
    reference: str = Field(default="", max_length=200)
    principal_entry_id: int | None = Field(default=None, sa_column=_entry_id())
    interest_entry_id: int | None = Field(default=None, sa_column=_entry_id())
    recorded_by: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class OverdueNotice(LoansBase, table=True):
    """An instalment that fell due unpaid and was announced (`loan.overdue`), once."""

    __tablename__ = "overdue_notices"

    loan_id: int = Field(sa_column=Column(Integer, ForeignKey("loans.id"), primary_key=True))
    instalment_number: int = Field(primary_key=True)
    due_on: date
    noticed_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


# The ledger does not know about loans; the link from its entries to their loan is declared
# here, so the ledger package stays usable on its own.
LedgerEntry.__table__.append_constraint(  # type: ignore[attr-defined]
    ForeignKeyConstraint(["loan_id"], ["loans.id"], name="fk_ledger_entries_loan_id_loans")
)
