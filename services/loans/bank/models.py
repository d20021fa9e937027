"""Tables of the bank's loan records: the current figures, every posted version, the banks."""

from datetime import date, datetime
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Index, text
from sqlmodel import Field

from common.clock import utcnow
from common.db import UTCDateTime
from common.sealing import BLIND_INDEX_LENGTH, SealedValues
from common.sync import stamp_field
from services.loans.models import LoansBase

BANK_CODE_LENGTH = 20
LOAN_NUMBER_LENGTH = 40
BORROWER_ID = "bank_loans.borrower_national_id"
"""What a borrower's sealed citizen ID is bound to: the same in the history, which copies it."""
PORTFOLIO_COLUMNS = [
    "id",
    "member_id",
    "club_id",
    "as_of",
    "disbursed_on",
    "status",
    "outstanding_principal",
    "overdue_amount",
]


def _partial_index(name: str, *columns: str, where: str, **options: Any) -> Index:
    """An index of the rows that meet `where`, on PostgreSQL and on SQLite alike."""
    return Index(name, *columns, postgresql_where=text(where), sqlite_where=text(where), **options)


class Bank(LoansBase, table=True):
    """A bank that posts loan records; every posting bumps its row first.

    The bump takes PostgreSQL's row lock and SQLite's write lock, so one bank's postings are
    applied one after another: a posting reads the stored figures it is compared with under the
    lock, and two batches that carry the same loan cannot both think they are the newer one.
    """

    __tablename__ = "banks"

    code: str = Field(primary_key=True, max_length=BANK_CODE_LENGTH)
    postings: int = 0
    last_posted_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class BankLoan(LoansBase, table=True):
    """A bank loan as of its newest figures, with the club member its borrower was matched to.

    The newest figures are the loan's current posting: its id, outcome, sender and time are
    kept here, and its row goes to the history (`BankLoanVersion`, with the same id) only when
    a newer posting replaces it. A loan posted once has no history row: that halves what a
    batch of new loans writes.
    """

    __tablename__ = "bank_loans"
    __table_args__ = (
        Index("uq_bank_loans_bank_code_loan_number", "bank_code", "loan_number", unique=True),
        # Partial indexes: only matched loans have a place, a club and a member (and a query
        # that filters on one of them implies it is not null); an unmatched loan is only in
        # `ix_bank_loans_unmatched`, which keeps bulk inserts cheap (most borrowers are no
        # club members).
        # Covering: an area's portfolio reads its matched loans from the index alone.
        _partial_index(
            "ix_bank_loans_province_code_commune_code",
            "province_code",
            "commune_code",
            where="province_code IS NOT NULL",
            postgresql_include=PORTFOLIO_COLUMNS,
        ),
        _partial_index("ix_bank_loans_club_id", "club_id", where="club_id IS NOT NULL"),
        _partial_index("ix_bank_loans_member_id", "member_id", where="member_id IS NOT NULL"),
        # A member who joins finds the bank's loans waiting for them by their citizen ID's
        # blind index (the matching run walks the unmatched loans in id order, along the
        # primary key).
        _partial_index(
            "ix_bank_loans_unmatched", "borrower_blind_index", where="member_id IS NULL"
        ),
        CheckConstraint(
            "principal > 0 AND outstanding_principal BETWEEN 0 AND principal"
            " AND overdue_amount BETWEEN 0 AND outstanding_principal",
            name="amounts_in_range",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    sync_stamp: int | None = stamp_field()
    bank_code: str = Field(max_length=BANK_CODE_LENGTH)
    loan_number: str = Field(max_length=LOAN_NUMBER_LENGTH)
    borrower_blind_index: str = Field(max_length=BLIND_INDEX_LENGTH)
    borrower_name: str = Field(max_length=200)
    programme: str = Field(max_length=30)
    principal: int = Field(sa_type=BigInteger)
    disbursed_on: date
    maturity_on: date
    annual_interest_rate_bp: int = Field(description="Percent × 100: 7.92 % is 792.")
    outstanding_principal: int = Field(sa_type=BigInteger)
    overdue_amount: int = Field(sa_type=BigInteger)
    status: str = Field(max_length=20)
    as_of: date
    borrower_national_id_sealed: str = Field(sa_type=SealedValues(BORROWER_ID), nullable=False)
    """The citizen ID, sealed by the posting (`rules.checked_values`), opened by the reads."""
    posting_id: int = Field(description="The current posting's id in the history's numbering.")
    posting_outcome: str = Field(max_length=20, description="created or updated")
    posted_by: str = Field(max_length=200)
    posted_at: datetime = Field(sa_type=UTCDateTime)
    member_id: int | None = None
    club_id: int | None = None
    province_code: str | None = Field(default=None, max_length=2)
    commune_code: str | None = Field(default=None, max_length=5)
    matched_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    retracted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    """Set while the bank has retracted the record (`BankLoanRetraction`): it stays, unmatched,
    out of every figure, and its loan number takes no posting."""
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class BankLoanVersion(LoansBase, table=True):
    """A posting of a loan's figures that is not (or no longer) its current one: each figures
    a newer posting replaced, and each stale posting (older `as_of` than the stored figures),
    with its outcome. Never updated or deleted. A loan's history is these rows and its current
    posting, in id order: ids are taken from this table's sequence when a posting is made, so
    they number every posting, current or not, in the order they were posted.
    `bank_loan_id` is deliberately not a foreign key: checking it row by row costs as much as
    writing the history itself (10,000 rows a batch), and the ids are only ever taken from loans
    written in the same transaction; neither table deletes rows.
    """

    __tablename__ = "bank_loan_versions"
    __table_args__ = (Index("ix_bank_loan_versions_bank_loan_id_id", "bank_loan_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    bank_loan_id: int
    outcome: str = Field(max_length=20)
    borrower_blind_index: str = Field(max_length=BLIND_INDEX_LENGTH)
    borrower_name: str = Field(max_length=200)
    programme: str = Field(max_length=30)
    principal: int = Field(sa_type=BigInteger)
    disbursed_on: date
    maturity_on: date
    annual_interest_rate_bp: int
    outstanding_principal: int = Field(sa_type=BigInteger)
    overdue_amount: int = Field(sa_type=BigInteger)
    status: str = Field(max_length=20)
    as_of: date
    borrower_national_id_sealed: str = Field(sa_type=SealedValues(BORROWER_ID), nullable=False)
    posted_by: str = Field(max_length=200)
    posted_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class BankLoanUnmatch(LoansBase, table=True):
    """A match of a bank loan to a member that was undone, when and why (the member withdrew
    their consent to matching with the bank's records). Never updated or deleted."""

    __tablename__ = "bank_loan_unmatches"
    __table_args__ = (Index("ix_bank_loan_unmatches_bank_loan_id", "bank_loan_id"),)

    id: int | None = Field(default=None, primary_key=True)
    bank_loan_id: int
    member_id: int
    club_id: int
    matched_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    reason: str = Field(max_length=200)
    effective_on: date = Field(description="The day the member withdrew the consent.")
    unmatched_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class BankLoanRetraction(LoansBase, table=True):
    """A record the bank posted by mistake, taken back: who took it back, when and why, and
    who reinstated it if that was a mistake too. The record itself is never deleted."""

    __tablename__ = "bank_loan_retractions"

    id: int | None = Field(default=None, primary_key=True)
    bank_loan_id: int = Field(index=True)
    reason: str = Field(max_length=500)
    member_id: int | None = Field(default=None, description="The member it was matched to.")
    retracted_by: str = Field(max_length=200)
    retracted_at: datetime = Field(sa_type=UTCDateTime, nullable=False)
    reinstated_by: str | None = Field(default=None, max_length=200)
    reinstated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class BankMatchingDue(LoansBase, table=True):
    """A loan stored while the clubs service could not say whose borrower it was: the retry
    worker (`services.loans.bank.matching.retry_matching`) asks again when `due_at` comes."""

    __tablename__ = "bank_matching_due"

    loan_id: int = Field(primary_key=True)
    due_at: datetime = Field(sa_type=UTCDateTime, nullable=False, index=True)
    attempts: int = 0
