"""What goes over the wire for reporting duties and the reports sent under them."""

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import Field

from common.schemas import Id, InputModel, OutputModel, PatchModel
from services.funding.targets.schemas import TargetReport

PERIOD_PATTERN = r"^\d{4}(-H[12]|-\d{4})?$"
PeriodKey = Annotated[
    str,
    Field(
        pattern=PERIOD_PATTERN,
        description="A six-month period `2018-H1` (January–June) or `2018-H2` (July–December), "
        "a year `2018`, or a whole plan or phase `2016-2020` (end of phase).",
        examples=["2018-H1"],
    ),
]
DueDays = Annotated[
    int,
    Field(
        ge=0,
        le=366,
        description="The report is due this many days after its period ends (0: on its last "
        "day); 15 by default.",
    ),
]
Title = Annotated[str, Field(min_length=1, max_length=300)]
Recipient = Annotated[
    str, Field(min_length=1, max_length=200, examples=["Bộ Y tế", "UBND tỉnh", "Sở Y tế"])
]


class ReportingLevel(StrEnum):
    """Who reports, and to whom: a commune, a province, the national programme office (or
    the ministry and government above it)."""

    COMMUNE = "commune"
    PROVINCE = "province"
    NATIONAL = "national"


class Frequency(StrEnum):
    SIX_MONTHLY = "six_monthly"
    ANNUAL = "annual"
    END_OF_PHASE = "end_of_phase"
    """One report, for the plan's or the phase's whole years."""


class PeriodStatus(StrEnum):
    DUE = "due"
    """Not sent, and its due date has not passed."""
    LATE = "late"
    """Not sent, and its due date has passed."""
    SENT = "sent"
    SENT_LATE = "sent_late"
    """Sent after its due date."""


class DutyCreate(InputModel):
    """A duty of a commune or a province reports on a plan (its targets over the commune, or
    all of them); the national office's on a programme phase."""

    title: Title = Field(examples=["Báo cáo kết quả thực hiện Kế hoạch 184/KH-UBND"])
    reporter_level: ReportingLevel
    area_code: Annotated[str, Field(pattern=r"^(\d{2}|\d{5})$")] | None = Field(
        default=None,
        description="The reporter's commune (5 digits) or province (2); none for the national "
        "office.",
    )
    recipient: Recipient
    recipient_level: ReportingLevel = Field(description="Not below the reporter's level.")
    frequency: Frequency
    plan_id: Id | None = Field(default=None, description="The plan version reported on.")
    programme_code: Annotated[str, Field(max_length=30)] | None = Field(
        default=None, description="The programme phase reported on (the national office's)."
    )
    first_period: PeriodKey | None = Field(
        default=None, description="Six-monthly and annual duties: the first period reported."
    )
    last_period: PeriodKey | None = Field(
        default=None,
        description="The last period reported; by default the last of the plan's or phase's years.",
    )
    due_days: DueDays = 15


class DutyUpdate(PatchModel):
    """What may change once a duty is set: reports sent under it stay as they were sent."""

    nullable: ClassVar[frozenset[str]] = frozenset()
    title: Title | None = None
    recipient: Recipient | None = None
    recipient_level: ReportingLevel | None = None
    due_days: DueDays | None = None


class DutyPublic(OutputModel):
    id: int
    title: str
    reporter_level: ReportingLevel
    province_code: str | None = Field(description="The reporter's province (none: national).")
    commune_code: str | None = Field(description="The reporter's commune, for a commune.")
    area_name: str | None = Field(description="The reporter's commune or province by name.")
    recipient: str
    recipient_level: ReportingLevel
    frequency: Frequency
    plan_id: int | None
    programme_code: str | None
    first_period: str
    last_period: str
    due_days: int
    created_by: str
    created_at: datetime
    updated_at: datetime


class DutyPeriod(OutputModel):
    period: str
    period_from: date
    period_to: date
    due_on: date = Field(description="The period's last day plus the duty's `due_days`.")
    status: PeriodStatus = Field(description="Against Vietnam's today.")
    report_id: int | None = Field(description="The report sent for it.")
    sent_at: datetime | None


class ReportSend(InputModel):
    period: PeriodKey


class DutyReportPublic(OutputModel):
    id: int
    duty_id: int
    period: str
    period_from: date
    period_to: date
    due_on: date
    late: bool = Field(description="Sent after its due date (Vietnam's calendar).")
    sent_by: str
    sent_at: datetime
    report: TargetReport = Field(
        description="The targets report as far as the period's last day, as it was sent: the "
        "figures never change afterwards."
    )
