"""What goes over the wire for activities, meetings and the coverage of the eight areas."""

from datetime import date, datetime
from typing import Annotated, ClassVar

from pydantic import AfterValidator, Field, StringConstraints

from common.schemas import Id, InputModel, OutputModel, PastDate, PatchModel
from services.clubs.activities import rules
from services.clubs.domain import ActivityArea

MAX_HEADCOUNT = 100_000
"""Far above any village event; a larger number is a typing mistake (and fits the column)."""
MAX_TOPICS = 50
MAX_ATTENDANCE = 1_000
"""Clubs have 50–70 members (a few hundred in the largest); a meeting lists at most this many."""


HeldOn = PastDate
Headcount = Annotated[int, Field(ge=0, le=MAX_HEADCOUNT)]
Title = Annotated[str, Field(min_length=1, max_length=300)]
Notes = Annotated[str, Field(max_length=2000)]
Topic = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Topics = Annotated[list[Topic], Field(max_length=MAX_TOPICS)]
AttendingIds = Annotated[
    list[Id],
    Field(
        max_length=MAX_ATTENDANCE,
        description="Members of this club, active on held_on, who attended; each once.",
    ),
    AfterValidator(rules.check_no_repeats),
]
HealthChecks = Annotated[
    int,
    Field(ge=0, le=MAX_ATTENDANCE, description="Members whose health was checked; ≤ attendance."),
]


class ActivityCreate(InputModel):
    held_on: HeldOn
    area: ActivityArea = Field(description="One of the eight areas of the club model.")
    title: Title
    participants: Headcount = 0
    beneficiaries: Headcount = 0
    notes: Notes = ""


class ActivityUpdate(PatchModel):
    held_on: HeldOn | None = None
    area: ActivityArea | None = None
    title: Title | None = None
    participants: Headcount | None = None
    beneficiaries: Headcount | None = None
    notes: Notes | None = None


class ActivityPublic(OutputModel):
    partner_hidden: ClassVar[frozenset[str]] = frozenset({"notes"})

    id: int
    club_id: int
    held_on: date
    area: ActivityArea
    title: str
    participants: int
    beneficiaries: int
    notes: str | None = Field(
        description="What the board wrote; null for partners (free text may name members)."
    )
    created_at: datetime
    updated_at: datetime


class MeetingCreate(InputModel):
    held_on: HeldOn
    topics: Topics = Field(default_factory=list)
    health_checks: HealthChecks = 0
    fund_decisions: Notes = Field(default="", description="The fund movements decided.")
    notes: Notes = ""
    attending_member_ids: AttendingIds = Field(default_factory=list)


class MeetingUpdate(PatchModel):
    """Changes to a meeting; `attending_member_ids` replaces the whole attendance."""

    held_on: HeldOn | None = None
    topics: Topics | None = None
    health_checks: HealthChecks | None = None
    fund_decisions: Notes | None = None
    notes: Notes | None = None
    attending_member_ids: AttendingIds | None = None


class MeetingPublic(OutputModel):
    id: int
    club_id: int
    held_on: date
    topics: list[str]
    health_checks: int
    fund_decisions: str
    notes: str
    attendance: int = Field(description="How many members attended.")
    attending_member_ids: list[int]
    created_at: datetime
    updated_at: datetime


class AreaCoverage(OutputModel):
    area: ActivityArea
    activities: int
    participants: int
    beneficiaries: int


class Coverage(OutputModel):
    """Which of the eight areas a club covered in a period, and how regularly it met."""

    club_id: int
    period_from: date = Field(serialization_alias="from")
    period_to: date = Field(serialization_alias="to")
    areas: list[AreaCoverage] = Field(description="All eight areas, in the model's order.")
    areas_covered: int
    missing_areas: list[ActivityArea]
    runs_all_eight: bool = Field(
        description="The programme indicator: activities recorded in all eight areas."
    )
    meetings_held: int
    months_with_meeting: int
    months_in_period: int = Field(description="Calendar months the period touches.")
