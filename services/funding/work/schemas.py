"""What goes over the wire for a plan's tasks, the spending on its lines and its events."""

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Self

from pydantic import AfterValidator, Field, model_validator

from common.problem_codes import Code
from common.problems import rule_error
from common.schemas import Id, InputModel, OutputModel, PastDate, PatchModel
from services.funding.reference.schemas import SourceCode
from services.funding.rules import MAX_AMOUNT


class EventKind(StrEnum):
    """What an event above the club was."""

    TRAINING_CLASS = "training_class"
    CLUB_LAUNCH = "club_launch"
    MONITORING_VISIT = "monitoring_visit"
    """Giám sát or hỗ trợ kỹ thuật: a visit to some clubs."""
    EXCHANGE_VISIT = "exchange_visit"
    REVIEW_CONFERENCE = "review_conference"


EVENT_KIND_LABELS: dict[EventKind, str] = {
    EventKind.TRAINING_CLASS: "Lớp tập huấn",
    EventKind.CLUB_LAUNCH: "Ra mắt câu lạc bộ",
    EventKind.MONITORING_VISIT: "Giám sát, hỗ trợ kỹ thuật",
    EventKind.EXCHANGE_VISIT: "Tham quan, trao đổi kinh nghiệm",
    EventKind.REVIEW_CONFERENCE: "Hội nghị sơ kết, tổng kết",
}


class EventLevel(StrEnum):
    PROVINCE = "province"
    COMMUNE = "commune"


MAX_CLUBS_PER_EVENT = 500
LineNumber = Annotated[int, Field(ge=1, le=999, description="The budget line's number (STT).")]
Agency = Annotated[str, Field(min_length=1, max_length=300)]


class When(InputModel):
    """A month or a quarter of the plan's years ("Quý II/2020", "Tháng 6")."""

    year: Annotated[int, Field(ge=2000, le=2100)] | None = Field(
        default=None, description="Null: each year of the plan."
    )
    month: Annotated[int, Field(ge=1, le=12)] | None = None
    quarter: Annotated[int, Field(ge=1, le=4)] | None = None

    @model_validator(mode="after")
    def _month_or_quarter(self) -> Self:
        if self.month is not None and self.quarter is not None:
            raise rule_error(Code.MUTUALLY_EXCLUSIVE, "give a month or a quarter, not both")
        if self.year is None and self.month is None and self.quarter is None:
            raise rule_error(Code.MISSING, "give a year, a month or a quarter")
        return self

    def first_month(self) -> int:
        if self.quarter is not None:
            return self.quarter * 3 - 2
        return self.month or 1

    def last_month(self) -> int:
        if self.quarter is not None:
            return self.quarter * 3
        return self.month or 12


def _no_repeats(values: list[Any]) -> list[Any]:
    repeated = sorted({str(v) for v in values if values.count(v) > 1})
    if repeated:
        raise rule_error(Code.DUPLICATE_VALUE, f"repeated: {', '.join(repeated)}")
    return values


Unique = AfterValidator(_no_repeats)


def _in_order(starts: When | None, ends: When | None) -> None:
    if starts is None or ends is None:
        return
    if starts.year is not None and ends.year is not None:
        first, last = (starts.year, starts.first_month()), (ends.year, ends.last_month())
    elif starts.year is None and ends.year is None:
        first, last = (0, starts.first_month()), (0, ends.last_month())
    else:
        raise rule_error(Code.INCONSISTENT, "give the year on both ends of the timing, or on none")
    if first > last:
        raise rule_error(Code.DATE_OUT_OF_ORDER, "the timing ends before it starts")


def check_task(starts: When | None, ends: When | None) -> None:
    """The task's timing starts before it ends (a change is checked merged with the task)."""
    _in_order(starts, ends)


class TaskIn(InputModel):
    """A task (nhiệm vụ) as the plan prints it."""

    number: Annotated[str, Field(min_length=1, max_length=30)] = Field(
        description='The heading\'s number as printed ("III.3.1").'
    )
    content: Annotated[str, Field(min_length=1, max_length=2000)]
    lead_agency: Agency = Field(
        description='Chủ trì ("Sở Lao động - Thương binh và Xã hội", "Hội Người cao tuổi tỉnh").'
    )
    partner_agencies: Annotated[list[Agency], Field(max_length=30), Unique] = Field(
        default_factory=list, description='Phối hợp ("Sở Ngoại vụ", "UBND cấp xã").'
    )
    timing: Annotated[str, Field(max_length=200)] = Field(
        default="", description='As printed ("Quý II/2020", "Tháng 6-12", "Hằng năm").'
    )
    starts: When | None = Field(default=None, description="The timing's first month or quarter.")
    ends: When | None = Field(default=None, description="The timing's last month or quarter.")
    line_numbers: Annotated[list[LineNumber], Field(max_length=50), Unique] = Field(
        default_factory=list, description="The plan's budget lines that pay for it."
    )
    sources: Annotated[list[SourceCode], Field(max_length=20), Unique] = Field(
        default_factory=list, description="The sources the plan names for it."
    )

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        check_task(self.starts, self.ends)
        return self


class TaskUpdate(PatchModel):
    nullable: ClassVar[frozenset[str]] = frozenset({"starts", "ends"})

    number: Annotated[str, Field(min_length=1, max_length=30)] | None = None
    content: Annotated[str, Field(min_length=1, max_length=2000)] | None = None
    lead_agency: Agency | None = None
    partner_agencies: Annotated[list[Agency], Field(max_length=30), Unique] | None = None
    timing: Annotated[str, Field(max_length=200)] | None = None
    starts: When | None = None
    ends: When | None = None
    line_numbers: Annotated[list[LineNumber], Field(max_length=50), Unique] | None = None
    sources: Annotated[list[SourceCode], Field(max_length=20), Unique] | None = None


class WhenPublic(OutputModel):
    year: int | None
    month: int | None
    quarter: int | None


class TaskPublic(OutputModel):
    partner_hidden: ClassVar[frozenset[str]] = frozenset({"created_by"})

    id: int
    plan_id: int
    number: str
    content: str
    lead_agency: str
    partner_agencies: list[str]
    timing: str
    starts: WhenPublic | None
    ends: WhenPublic | None
    line_numbers: list[int]
    sources: list[str]
    created_by: str | None = Field(description="Who wrote it; null for partners.")
    created_at: datetime
    updated_at: datetime


class SpendingCreate(InputModel):
    """Money paid for a plan line that does not go to a club's fund."""

    line_number: LineNumber
    source: SourceCode
    spent_on: PastDate
    amount: Annotated[int, Field(gt=0, le=MAX_AMOUNT, strict=True)] = Field(
        description="Whole đồng, more than 0."
    )
    document: Annotated[str, Field(min_length=1, max_length=200)] = Field(
        description='The voucher it was paid on ("Chứng từ số 12/CT").'
    )
    description: Annotated[str, Field(max_length=500)] = ""


class SpendingWithdrawal(InputModel):
    reason: Annotated[str, Field(min_length=1, max_length=500)] = Field(
        description="Why the entry is withdrawn (recorded twice, wrong line, wrong amount)."
    )


class SpendingPublic(OutputModel):
    id: int
    plan_id: int = Field(description="The version it was recorded under.")
    plan_line_id: int
    series_id: int
    line_number: int
    source: str
    province_code: str
    amount: int
    spent_on: date
    document: str
    description: str
    created_by: str
    created_at: datetime
    withdrawn_at: datetime | None = Field(description="Set once withdrawn; it then counts nowhere.")
    withdrawn_by: str | None
    withdrawal_reason: str | None


Count = Annotated[int, Field(ge=0, le=1_000_000)]
Days = Annotated[int, Field(ge=1, le=366)]
Title = Annotated[str, Field(min_length=1, max_length=300)]
Notes = Annotated[str, Field(max_length=2000)]
CommuneCode = Annotated[str, Field(pattern=r"^\d{5}$", description="5-digit commune code.")]
ClubIds = Annotated[list[Id], Field(max_length=MAX_CLUBS_PER_EVENT), Unique]


def _check_place(level: EventLevel | None, commune_code: str | None) -> None:
    if level is EventLevel.COMMUNE and commune_code is None:
        raise rule_error(Code.REQUIRED_WITH, "a commune-level event needs its commune_code")
    if level is EventLevel.PROVINCE and commune_code is not None:
        raise rule_error(Code.NOT_ALLOWED_WITH, "a province-level event has no commune_code")


class EventCreate(InputModel):
    """An event above the club, under one line of the plan."""

    line_number: LineNumber
    kind: EventKind
    title: Title = Field(description='As the report names it ("Tập huấn Ban chủ nhiệm CLB").')
    level: EventLevel
    commune_code: CommuneCode | None = Field(
        default=None, description="Required for a commune-level event, absent otherwise."
    )
    started_on: PastDate
    days: Days = 1
    participants: Count | None = Field(
        default=None, description="People who took part: trainees of a class, delegates."
    )
    club_ids: ClubIds = Field(
        default_factory=list,
        description="The clubs involved: for a training class those whose boards took part, "
        "for a monitoring visit those visited, for a launch those launched.",
    )
    notes: Notes = ""

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        _check_place(self.level, self.commune_code)
        return self


class EventUpdate(PatchModel):
    nullable: ClassVar[frozenset[str]] = frozenset({"commune_code", "participants"})

    line_number: LineNumber | None = None
    kind: EventKind | None = None
    title: Title | None = None
    level: EventLevel | None = None
    commune_code: CommuneCode | None = None
    started_on: PastDate | None = None
    days: Days | None = None
    participants: Count | None = None
    club_ids: ClubIds | None = Field(default=None, description="Replaces the list.")
    notes: Notes | None = None


class EventClubPublic(OutputModel):
    """A club the event involved, placed as it was when the event was recorded."""

    club_id: int
    province_code: str
    commune_code: str
    former_province_code: str | None = Field(description="Before the 2025 merger, if known.")
    former_district_code: str | None = Field(description="Before the 2025 merger, if known.")


class EventPublic(OutputModel):
    id: int
    series_id: int
    plan_id: int = Field(description="The version it was recorded under.")
    line_number: int
    province_code: str
    level: EventLevel
    commune_code: str | None
    kind: EventKind
    kind_label: str = Field(description="The kind in Vietnamese.")
    title: str
    started_on: date
    days: int
    participants: int | None
    clubs: list[EventClubPublic]
    notes: str
    created_by: str
    created_at: datetime
    updated_at: datetime
