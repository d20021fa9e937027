"""The portfolio's running balances: its figures on every day, kept so that a national report
of any date reads a few thousand rows instead of replaying a million loans.

Members are split into `SHARDS` shards by id (a member's loans and bank records are in one
shard, so distinct members add up across shards). For each shard, area (a province, or
`NATION` for the whole country) and day on which a figure changes, `PortfolioBalance` holds
the figures from that day on. A write that changes figures of some day marks the shards it
touches stale from that day (`PortfolioStale`, in the write's transaction); the worker
rebuilds stale shards (`balances.rebuild`). A report of a date reads the balances of the
shards not stale on that date and computes the others from the loans, so it is exact at every
moment (`balances.py`).
"""

from datetime import date, datetime

from sqlalchemy import BigInteger, Index
from sqlmodel import Field

from common.clock import utcnow
from common.db import UTCDateTime
from services.loans.models import LoansBase

SHARDS = 32
NATION = ""
"""The area of the whole country's figures (a province's is its two-digit code)."""
FIGURES = (
    "loans_outstanding",
    "outstanding_principal",
    "par30_principal",
    "due_to_date",
    "repaid_to_date",
    "written_off_principal",
    "borrowers",
    "bank_loans_outstanding",
    "bank_outstanding_principal",
    "bank_overdue_amount",
    "bank_borrowers",
    "members_with_loan",
)
"""The balances' figures, in the order of `queries.Figures`."""


def _figure() -> int:
    return Field(default=0, sa_type=BigInteger)  # type: ignore[no-any-return]


class PortfolioBalance(LoansBase, table=True):
    """One shard's figures in one area from `day` until its next row (see the module)."""

    __tablename__ = "portfolio_balances"

    shard: int = Field(primary_key=True)
    area: str = Field(primary_key=True, max_length=2)
    day: date = Field(primary_key=True)
    loans_outstanding: int = _figure()
    outstanding_principal: int = _figure()
    par30_principal: int = _figure()
    due_to_date: int = _figure()
    repaid_to_date: int = _figure()
    written_off_principal: int = _figure()
    borrowers: int = _figure()
    bank_loans_outstanding: int = _figure()
    bank_outstanding_principal: int = _figure()
    bank_overdue_amount: int = _figure()
    bank_borrowers: int = _figure()
    members_with_loan: int = _figure()


class PortfolioArea(LoansBase, table=True):
    """The areas a shard has balances in: a report finds each one's newest balance of its
    date with one probe, instead of grouping every balance up to the date."""

    __tablename__ = "portfolio_areas"

    shard: int = Field(primary_key=True)
    area: str = Field(primary_key=True, max_length=2)


class PortfolioStale(LoansBase, table=True):
    """A shard's balances are stale from `from_day` on: a write changed its figures of that
    day and later ones. Deleted by the rebuild that read the write."""

    __tablename__ = "portfolio_stale"
    __table_args__ = (Index("ix_portfolio_stale_from_day_shard", "from_day", "shard"),)

    id: int | None = Field(default=None, primary_key=True)
    shard: int
    from_day: date
    marked_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class PortfolioShard(LoansBase, table=True):
    """One row per shard, locked by the rebuild of that shard (two workers never rebuild the
    same shard at once), with when it was last rebuilt."""

    __tablename__ = "portfolio_shards"

    shard: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    built_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
