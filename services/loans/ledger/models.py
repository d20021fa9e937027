"""Tables of the fund ledger."""

from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Column, ForeignKey, Index, Integer
from sqlmodel import Field

from common.clock import utcnow
from common.db import UTCDateTime, references
from common.sync import stamp_field
from services.loans.models import LoansBase


class Fund(LoansBase, table=True):
    """One of a club's two funds; its balance is derived from postings, never stored.

    `version` is bumped by every write transaction first, which serialises writers on the row
    (PostgreSQL row lock; SQLite write lock) before the balance is computed.
    """

    __tablename__ = "funds"
    __table_args__ = (
        Index("uq_funds_club_id_kind", "club_id", "kind", unique=True),
        Index("ix_funds_province_code_commune_code", "province_code", "commune_code"),
    )

    id: int | None = Field(default=None, primary_key=True)
    club_id: int
    kind: str = Field(max_length=30)
    province_code: str = Field(max_length=2)
    commune_code: str = Field(max_length=5)
    opened_by: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    version: int = 1


class LedgerEntry(LoansBase, table=True):
    """One balanced movement of a fund; entries are never updated or deleted."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        Index("ix_ledger_entries_fund_id_occurred_on", "fund_id", "occurred_on", "id"),
        # An allocation from a funder is recorded once, whatever the race.
        Index("uq_ledger_entries_allocation_id", "allocation_id", unique=True),
        # An entry is reversed at most once.
        Index("uq_ledger_entries_reverses_entry_id", "reverses_entry_id", unique=True),
        Index("ix_ledger_entries_loan_id", "loan_id"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )

    id: int | None = Field(default=None, primary_key=True)
    sync_stamp: int | None = stamp_field()
    fund_id: int = Field(sa_column=references("funds.id", "fk_ledger_entries_fund_id_funds"))
    entry_type: str = Field(max_length=30)
    occurred_on: date
    amount: int = Field(sa_type=BigInteger)
    reference: str = Field(default="", max_length=200)
    origin: str | None = Field(default=None, max_length=30)
    allocation_id: int | None = None
    reverses_entry_id: int | None = Field(
        default=None,
        sa_column=Column(
            Integer,
            ForeignKey(
                "ledger_entries.id", name="fk_ledger_entries_reverses_entry_id_ledger_entries"
            ),
            nullable=True,
        ),
    )
    # The member loan this entry moves money for (its foreign key is declared by lending).
    loan_id: int | None = None
    recorded_by: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class Posting(LoansBase, table=True):
    """One side of an entry: a signed amount on one account (debit +, credit −)."""

    __tablename__ = "postings"
    __table_args__ = (
        Index("ix_postings_fund_id_account", "fund_id", "account"),
        CheckConstraint("amount <> 0", name="amount_not_zero"),
    )

    id: int | None = Field(default=None, primary_key=True)
    entry_id: int = Field(
        sa_column=references("ledger_entries.id", "fk_postings_entry_id_ledger_entries", index=True)
    )
    fund_id: int = Field(sa_column=references("funds.id", "fk_postings_fund_id_funds"))
    account: str = Field(max_length=30)
    amount: int = Field(sa_type=BigInteger)
