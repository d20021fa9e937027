"""Tables of plans: a series per province and period, versions, budget lines and their sources."""

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Index, String
from sqlmodel import Field

from common.clock import utcnow
from common.db import UTCDateTime, references
from services.funding.models import FundingBase


class PlanSeries(FundingBase, table=True):
    """One province's plan for one period under one programme; its versions are `Plan` rows."""

    __tablename__ = "plan_series"
    __table_args__ = (
        Index(
            "uq_plan_series_province_code_programme_code_start_year_end_year",
            "province_code",
            "programme_code",
            "start_year",
            "end_year",
            unique=True,
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    province_code: str = Field(max_length=2)
    programme_code: str = Field(
        sa_column=references(
            "programmes.code", "fk_plan_series_programme_code_programmes", column_type=String(30)
        )
    )
    start_year: int
    end_year: int
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class Plan(FundingBase, table=True):
    """One version of a plan. Approved versions are never changed; a revision is a new row."""

    __tablename__ = "plans"
    __table_args__ = (Index("uq_plans_series_id_version", "series_id", "version", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    series_id: int = Field(sa_column=references("plan_series.id", "fk_plans_series_id_plan_series"))
    version: int
    status: str = Field(max_length=20)
    title: str = Field(max_length=300)
    clubs_to_found: int | None = None
    """None: the plan does not state it (reported as no target, never as 0)."""
    clubs_to_maintain: int | None = None
    members: int | None = None
    older_members: int | None = None
    notes: str = Field(default="", max_length=2000)
    created_by: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    approved_by: str | None = Field(default=None, max_length=200)
    approved_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class PlanLine(FundingBase, table=True):
    """A row of the budget estimate table; its number stays with it across revisions."""

    __tablename__ = "plan_lines"
    __table_args__ = (Index("uq_plan_lines_plan_id_number", "plan_id", "number", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(sa_column=references("plans.id", "fk_plan_lines_plan_id_plans"))
    number: int
    activity: str = Field(max_length=30)
    """A code of the activities' reference list."""
    content: str = Field(max_length=500)
    activity_inferred: bool = False
    """A table import read the activity from the content's wording: for the officer to
    confirm (giving the line's activity again clears it)."""


class PlanLineAmount(FundingBase, table=True):
    """What one source is expected to give to one line, in đồng (or that it gives, amount
    unknown)."""

    __tablename__ = "plan_line_amounts"
    __table_args__ = (
        Index("uq_plan_line_amounts_line_id_source", "line_id", "source", unique=True),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
    )

    id: int | None = Field(default=None, primary_key=True)
    line_id: int = Field(
        sa_column=references("plan_lines.id", "fk_plan_line_amounts_line_id_plan_lines")
    )
    source: str = Field(max_length=30)
    """A code of the sources' reference list."""
    amount: int | None = Field(default=None, sa_type=BigInteger)
    """None: the source is named but its amount is not known yet ("trong dự toán hằng năm");
    it counts as 0."""
