"""Tables of reporting duties and of the reports sent under them, frozen as sent."""

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Index, String
from sqlmodel import Field

from common.clock import utcnow
from common.db import UTCDateTime, references
from services.funding.models import FundingBase


class ReportingDuty(FundingBase, table=True):
    """Which level reports on which plan (or programme phase) to whom, how often, and when
    each report is due: `due_days` after its period ends."""

    __tablename__ = "reporting_duties"
    __table_args__ = (
        CheckConstraint("(plan_id IS NULL) <> (programme_code IS NULL)", name="plan_or_programme"),
        CheckConstraint("due_days >= 0", name="due_days_not_negative"),
    )

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=300)
    reporter_level: str = Field(max_length=20)
    province_code: str | None = Field(default=None, max_length=2, index=True)
    """The reporter's province (a commune's own province); none for the national office."""
    commune_code: str | None = Field(default=None, max_length=5)
    recipient: str = Field(max_length=200)
    recipient_level: str = Field(max_length=20)
    frequency: str = Field(max_length=20)
    plan_id: int | None = Field(
        default=None,
        sa_column=references(
            "plans.id", "fk_reporting_duties_plan_id_plans", nullable=True, index=True
        ),
    )
    programme_code: str | None = Field(
        default=None,
        sa_column=references(
            "programmes.code",
            "fk_reporting_duties_programme_code_programmes",
            column_type=String(30),
            nullable=True,
        ),
    )
    first_period: str = Field(max_length=9)
    last_period: str = Field(max_length=9)
    due_days: int
    created_by: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class DutyReport(FundingBase, table=True):
    """One period's report as it was sent: its figures never change afterwards."""

    __tablename__ = "duty_reports"
    __table_args__ = (Index("uq_duty_reports_duty_id_period", "duty_id", "period", unique=True),)

    id: int | None = Field(default=None, primary_key=True)
    duty_id: int = Field(
        sa_column=references("reporting_duties.id", "fk_duty_reports_duty_id_reporting_duties")
    )
    period: str = Field(max_length=9)
    period_from: date
    period_to: date
    due_on: date
    """As it was when the report was sent (a later change of the duty's `due_days` does not
    make a report late after the fact)."""
    late: bool
    content: dict[str, Any] = Field(sa_type=JSON, nullable=False)
    """The targets report as sent."""
    sent_by: str = Field(max_length=200)
    sent_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
