"""Tables of the work a plan holds beyond its budget lines: its tasks as written, spending on
its lines, and the events above the club (training classes, launches, monitoring visits…).

Spending and events are recorded against the plan's series and a line number, like money flows
(`services/funding/flows/models.py`), so a revision of the plan keeps them.
"""

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, CheckConstraint, Index
from sqlmodel import Field

from common.clock import utcnow
from common.db import UTCDateTime
from services.funding.models import FundingBase, link


class PlanTask(FundingBase, table=True):
    """A task (nhiệm vụ) of a plan version as the plan prints it; a revision copies them."""

    __tablename__ = "plan_tasks"
    __table_args__ = (Index("ix_plan_tasks_plan_id", "plan_id"),)

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(sa_column=link("plan_tasks", "plan_id", "plans"))
    number: str = Field(max_length=30)
    """The heading's number as printed ("III.3.1")."""
    content: str = Field(max_length=2000)
    lead_agency: str = Field(max_length=300)
    """Chủ trì."""
    partner_agencies: list[str] = Field(default_factory=list, sa_type=JSON, nullable=False)
    """Phối hợp, in the plan's order."""
    timing: str = Field(default="", max_length=200)
    """As printed ("Quý II/2020", "Tháng 6-12")."""
    from_year: int | None = None
    from_month: int | None = None
    from_quarter: int | None = None
    to_year: int | None = None
    to_month: int | None = None
    to_quarter: int | None = None
    line_numbers: list[int] = Field(default_factory=list, sa_type=JSON, nullable=False)
    sources: list[str] = Field(default_factory=list, sa_type=JSON, nullable=False)
    created_by: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class Spending(FundingBase, table=True):
    """Money spent on a plan line that does not go to a club's fund (training, launches,
    monitoring, the review conference…). A mistaken entry is withdrawn, never deleted."""

    __tablename__ = "plan_spending"
    __table_args__ = (
        Index("ix_plan_spending_series_id_line_number", "series_id", "line_number"),
        Index("ix_plan_spending_province_code_spent_on", "province_code", "spent_on"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(sa_column=link("plan_spending", "plan_id", "plans"))
    plan_line_id: int = Field(sa_column=link("plan_spending", "plan_line_id", "plan_lines"))
    series_id: int
    line_number: int
    source: str = Field(max_length=30)
    province_code: str = Field(max_length=2)
    amount: int = Field(sa_type=BigInteger)
    spent_on: date
    document: str = Field(max_length=200)
    """The voucher it was paid on ("Chứng từ số 12/CT")."""
    description: str = Field(default="", max_length=500)
    created_by: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    withdrawn_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    """A withdrawn entry counts nowhere."""
    withdrawn_by: str | None = Field(default=None, max_length=200)
    withdrawal_reason: str | None = Field(default=None, max_length=500)


class PlanEvent(FundingBase, table=True):
    """An event above the club, held by the province or a commune under a plan line."""

    __tablename__ = "plan_events"
    __table_args__ = (
        Index("ix_plan_events_series_id_started_on", "series_id", "started_on"),
        CheckConstraint("days > 0", name="days_positive"),
    )

    id: int | None = Field(default=None, primary_key=True)
    series_id: int
    plan_id: int = Field(sa_column=link("plan_events", "plan_id", "plans"))
    """The version it was recorded under."""
    line_number: int
    province_code: str = Field(max_length=2)
    level: str = Field(max_length=20)
    commune_code: str | None = Field(default=None, max_length=5)
    kind: str = Field(max_length=30)
    title: str = Field(max_length=300)
    started_on: date
    days: int = 1
    participants: int | None = None
    notes: str = Field(default="", max_length=2000)
    created_by: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class PlanEventClub(FundingBase, table=True):
    """A club an event involved, with the club's place as it was then.

    The event's kind and start are repeated here so that counts of clubs trained or monitored
    in an area and period read this table's indexes alone, without asking the clubs service.
    """

    __tablename__ = "plan_event_clubs"
    __table_args__ = (
        Index("uq_plan_event_clubs_event_id_club_id", "event_id", "club_id", unique=True),
        Index("ix_plan_event_clubs_kind_started_on", "kind", "started_on", "club_id"),
        Index(
            "ix_plan_event_clubs_kind_province_code_started_on",
            "kind",
            "province_code",
            "started_on",
            "club_id",
        ),
        Index(
            "ix_plan_event_clubs_kind_commune_code_started_on",
            "kind",
            "commune_code",
            "started_on",
            "club_id",
        ),
        Index(
            "ix_plan_event_clubs_kind_former_district_code_started_on",
            "kind",
            "former_district_code",
            "started_on",
            "club_id",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(sa_column=link("plan_event_clubs", "event_id", "plan_events"))
    club_id: int
    kind: str = Field(max_length=30)
    started_on: date
    province_code: str = Field(max_length=2)
    commune_code: str = Field(max_length=5)
    former_province_code: str | None = Field(default=None, max_length=2)
    """Where the club was before the 2025 merger, when the clubs service knows it: plans
    written before it count by former province and district."""
    former_district_code: str | None = Field(default=None, max_length=3)
