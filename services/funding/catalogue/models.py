"""Tables of funders and programmes."""

from datetime import datetime

from sqlalchemy import Index
from sqlmodel import Field

from common.clock import utcnow
from common.db import UTCDateTime
from services.funding.models import FundingBase


class Funder(FundingBase, table=True):
    """An organisation (or group of people) that pays.

    `version` is bumped before each allocation of the funder's money, which serialises the
    "allocated ≤ received" check of concurrent allocations (PostgreSQL row lock).
    """

    __tablename__ = "funders"
    __table_args__ = (Index("uq_funders_name", "name", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    funder_type: str = Field(max_length=30)
    source: str = Field(max_length=30)
    province_code: str | None = Field(default=None, max_length=2)
    country: str | None = Field(default=None, max_length=100)
    iati_org_id: str | None = Field(default=None, max_length=100)
    """The funder's IATI organisation identifier (`GB-CHC-288180`), for its IATI export."""
    notes: str = Field(default="", max_length=2000)
    created_by: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    version: int = 1


class Programme(FundingBase, table=True):
    """A national programme phase and its targets; shipped by the migrations as data."""

    __tablename__ = "programmes"

    code: str = Field(primary_key=True, max_length=30)
    decision: str = Field(max_length=50)
    name: str = Field(max_length=300)
    start_year: int
    end_year: int
    new_clubs: int | None = None
    members: int | None = None
    older_members: int | None = None
    clubs_maintained_pct: int | None = None
    clubs_running_all_activities_pct: int | None = None
    members_able_to_borrow_pct: int | None = None
    clubs_with_both_funds_pct: int | None = None
    notes: str = Field(default="", max_length=2000)
