"""Targets: what a plan or a programme phase promises, one indicator, area and period each."""

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, CheckConstraint, Column, Numeric, String
from sqlmodel import Field

from common.clock import utcnow
from common.db import UTCDateTime, references
from services.funding.models import FundingBase


class Target(FundingBase, table=True):
    """A floor, a ceiling or a range for one indicator, over one area and period, promised by
    a plan version (copied into its revisions) or by a programme phase."""

    __tablename__ = "targets"
    __table_args__ = (
        CheckConstraint("(plan_id IS NULL) <> (programme_code IS NULL)", name="plan_or_programme"),
        CheckConstraint("minimum IS NOT NULL OR maximum IS NOT NULL", name="has_a_bound"),
        CheckConstraint(
            "minimum IS NULL OR maximum IS NULL OR minimum <= maximum", name="bounds_in_order"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int | None = Field(
        default=None,
        sa_column=references("plans.id", "fk_targets_plan_id_plans", nullable=True, index=True),
    )
    programme_code: str | None = Field(
        default=None,
        sa_column=references(
            "programmes.code",
            "fk_targets_programme_code_programmes",
            column_type=String(30),
            nullable=True,
            index=True,
        ),
    )
    indicator: str = Field(max_length=60)
    area_level: str = Field(max_length=20)
    area_code: str | None = Field(default=None, max_length=5)
    """Today's province (2 digits) or commune (5), a former province (2) or district (3); none
    for the nation."""
    period_from: date | None = None
    """None: a milestone, counted from the plan's or phase's start."""
    period_to: date
    minimum: Decimal | None = Field(default=None, sa_column=Column(Numeric(20, 2)))
    maximum: Decimal | None = Field(default=None, sa_column=Column(Numeric(20, 2)))
    parameter: int | None = Field(default=None, sa_column=Column(BigInteger))
    each_year: bool = False
    """The bound holds for each calendar year of the period ("≥ 15 clubs founded each year")."""
    wording: str = Field(default="", max_length=1000)
    """The plan's own sentence, as written."""
    created_by: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
