"""Tables of money flows: commitments (pledges), receipts and allocations to club funds.

Each flow names the plan version and line it was recorded against, and keeps the plan's series
and the line number too, so plan-against-actual of any later version finds it.
"""

from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Index
from sqlmodel import Field

from common.clock import utcnow
from common.db import UTCDateTime, references
from common.sync import stamp_field
from services.funding.models import FundingBase, link


class Commitment(FundingBase, table=True):
    """A funder's pledge to a plan line, optionally for one club."""

    __tablename__ = "commitments"
    __table_args__ = (
        Index("ix_commitments_series_id_line_number", "series_id", "line_number"),
        Index("ix_commitments_funder_id", "funder_id"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )

    id: int | None = Field(default=None, primary_key=True)
    sync_stamp: int | None = stamp_field()
    funder_id: int = Field(sa_column=link("commitments", "funder_id", "funders"))
    plan_id: int = Field(sa_column=link("commitments", "plan_id", "plans"))
    plan_line_id: int = Field(sa_column=link("commitments", "plan_line_id", "plan_lines"))
    series_id: int
    line_number: int
    source: str = Field(max_length=30)
    province_code: str = Field(max_length=2)
    club_id: int | None = None
    amount: int = Field(sa_type=BigInteger)
    committed_on: date
    reference: str = Field(default="", max_length=200)
    created_by: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    withdrawn_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    """A pledge made by mistake is withdrawn, never deleted: it then counts nowhere."""
    withdrawn_by: str | None = Field(default=None, max_length=200)
    withdrawal_reason: str | None = Field(default=None, max_length=500)


class Receipt(FundingBase, table=True):
    """Money a funder actually paid for a plan line."""

    __tablename__ = "receipts"
    __table_args__ = (
        Index("ix_receipts_series_id_line_number", "series_id", "line_number"),
        Index("ix_receipts_funder_id_series_id", "funder_id", "series_id"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )

    id: int | None = Field(default=None, primary_key=True)
    sync_stamp: int | None = stamp_field()
    funder_id: int = Field(sa_column=link("receipts", "funder_id", "funders"))
    plan_id: int = Field(sa_column=link("receipts", "plan_id", "plans"))
    plan_line_id: int = Field(sa_column=link("receipts", "plan_line_id", "plan_lines"))
    series_id: int
    line_number: int
    source: str = Field(max_length=30)
    province_code: str = Field(max_length=2)
    commitment_id: int | None = Field(
        default=None,
        sa_column=references(
            "commitments.id", "fk_receipts_commitment_id_commitments", nullable=True
        ),
    )
    amount: int = Field(sa_type=BigInteger)
    received_on: date
    reference: str = Field(default="", max_length=200)
    created_by: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class Allocation(FundingBase, table=True):
    """Money given to one club's fund; the loans service records it as capital exactly once.

    The club's place is kept as it was when allocated, so lists filter by province without
    asking the clubs service.
    """

    __tablename__ = "allocations"
    __table_args__ = (
        Index("ix_allocations_series_id_line_number", "series_id", "line_number"),
        Index("ix_allocations_funder_id_series_id", "funder_id", "series_id"),
        Index(
            "ix_allocations_funder_id_province_code_club_id",
            "funder_id",
            "province_code",
            "club_id",
            "amount",
            "allocated_on",
        ),
        Index("ix_allocations_province_code_club_id", "province_code", "club_id"),
        # A club's allocations, and whether one funder gave to a club: one index-only probe
        # per club for the clubs a partner's funded-clubs page counts as "other clubs".
        Index("ix_allocations_club_id_funder_id", "club_id", "funder_id"),
        Index("ix_allocations_status_next_attempt_at", "status", "next_attempt_at"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )

    id: int | None = Field(default=None, primary_key=True)
    sync_stamp: int | None = stamp_field()
    funder_id: int = Field(sa_column=link("allocations", "funder_id", "funders"))
    plan_id: int = Field(sa_column=link("allocations", "plan_id", "plans"))
    plan_line_id: int = Field(sa_column=link("allocations", "plan_line_id", "plan_lines"))
    series_id: int
    line_number: int
    source: str = Field(max_length=30)
    programme_code: str = Field(max_length=30)
    province_code: str = Field(max_length=2)
    commune_code: str = Field(max_length=5)
    club_id: int
    fund_kind: str = Field(max_length=30)
    amount: int = Field(sa_type=BigInteger)
    allocated_on: date
    reference: str = Field(default="", max_length=200)
    status: str = Field(max_length=20)
    failure_reason: str | None = Field(default=None, max_length=500)
    attempts: int = 0
    next_attempt_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    fund_id: int | None = None
    ledger_entry_id: int | None = None
    recorded_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_by: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
