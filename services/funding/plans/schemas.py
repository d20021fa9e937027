"""What goes over the wire for plans, their budget lines and their execution."""

from datetime import date, datetime
from typing import Annotated, ClassVar, Self

from pydantic import Field, model_validator

from common.problem_codes import Code
from common.problems import rule_error
from common.schemas import InputModel, OutputModel
from services.funding.reference.schemas import ActivityCode, SourceCode
from services.funding.rules import MAX_AMOUNT, PlanStatus

MAX_LINES = 200
ProvinceCode = Annotated[str, Field(pattern=r"^\d{2}$", description="2-digit province code.")]
Year = Annotated[int, Field(ge=2000, le=2100)]
LineAmount = Annotated[int, Field(ge=0, le=MAX_AMOUNT, strict=True, description="Whole đồng.")]
Count = Annotated[int, Field(ge=0, le=10_000_000)]


def known_sum(amounts: dict[str, int | None]) -> int:
    """The amounts' sum, a source named without its amount counting as 0."""
    return sum(amount for amount in amounts.values() if amount is not None)


class Targets(InputModel):
    """The plan's four headline counts, each null where the plan does not state it (then it
    is reported as no target, never as 0 and met). Any other target is written in the
    indicators' catalogue: `/api/v1/plans/{plan_id}/targets`."""

    clubs_to_found: Count | None = None
    clubs_to_maintain: Count | None = None
    members: Count | None = None
    older_members: Count | None = None

    @model_validator(mode="after")
    def _older_among_members(self) -> Self:
        older, members = self.older_members, self.members
        if older is not None and members is not None and older > members:
            raise rule_error(Code.INCONSISTENT, "older_members cannot exceed members")
        return self


class LineIn(InputModel):
    """A row of the budget table: what it pays for and what each source gives, in đồng."""

    number: Annotated[int, Field(ge=1, le=999)] | None = Field(
        default=None,
        description="Row number (STT); kept across revisions, so money recorded against it "
        "follows. Defaults to the position in the list.",
    )
    activity: ActivityCode
    content: Annotated[str, Field(min_length=1, max_length=500)]
    amounts: dict[SourceCode, LineAmount | None] = Field(
        description="Amount expected from each source (codes of `/api/v1/reference/sources`); "
        'null names a source whose amount is not known yet ("trong dự toán hằng năm"), '
        "counted as 0; sources left out expect nothing."
    )
    total: LineAmount | None = Field(
        default=None, description="If given, must equal the sum of the amounts."
    )

    @model_validator(mode="after")
    def _total_adds_up(self) -> Self:
        added = known_sum(self.amounts)
        if self.total is not None and self.total != added:
            reason = f"the sources add up to {added} đồng, not the total {self.total}"
            raise rule_error(Code.SUM_MISMATCH, reason)
        return self


def _check_lines(lines: list[LineIn]) -> list[LineIn]:
    numbers = [line.number or position for position, line in enumerate(lines, start=1)]
    repeated = sorted({n for n in numbers if numbers.count(n) > 1})
    if repeated:
        listed = ", ".join(map(str, repeated))
        raise rule_error(Code.DUPLICATE_VALUE, f"line numbers repeated: {listed}")
    return [
        line.model_copy(update={"number": number})
        for line, number in zip(lines, numbers, strict=True)
    ]


class PlanContent(InputModel):
    """The parts of a plan a draft may change."""

    title: Annotated[str, Field(min_length=1, max_length=300)]
    notes: Annotated[str, Field(max_length=2000)] = ""
    targets: Targets = Field(default_factory=Targets)
    lines: Annotated[list[LineIn], Field(max_length=MAX_LINES)] = Field(default_factory=list)
    total: LineAmount | None = Field(
        default=None, description="If given, must equal the sum of all lines."
    )

    @model_validator(mode="after")
    def _numbered(self) -> Self:
        self.lines = _check_lines(self.lines)
        return self

    def total_mismatch(self) -> str | None:
        """Why the stated total is not the lines' sum, if it is not. Checked with the lines'
        codes (which need the database), so that one answer lists both."""
        added = sum(known_sum(line.amounts) for line in self.lines)
        if self.total is not None and self.total != added:
            return f"the lines add up to {added} đồng, not the total {self.total}"
        return None


class PlanCreate(PlanContent):
    province_code: ProvinceCode
    programme_code: Annotated[str, Field(min_length=1, max_length=30)]
    start_year: Year
    end_year: Year | None = Field(default=None, description="Defaults to start_year.")

    @model_validator(mode="after")
    def _period(self) -> Self:
        end = self.end_year if self.end_year is not None else self.start_year
        if end < self.start_year:
            raise rule_error(Code.DATE_OUT_OF_ORDER, "end_year is before start_year")
        if end - self.start_year > 15:
            raise rule_error(Code.PERIOD_TOO_LONG, "a plan covers at most 16 years")
        self.end_year = end
        return self


class LinePublic(OutputModel):
    id: int
    number: int
    activity: str = Field(description="A code of `/api/v1/reference/activities`.")
    activity_inferred: bool = Field(
        default=False,
        description="A table import read the activity from the content's wording: the "
        "officer confirms it by giving the line's activity again (PUT the plan or its table).",
    )
    content: str
    amounts: dict[str, int | None] = Field(
        description="The sources that give something, or that are named with the amount not "
        "known yet (null)."
    )
    total: int = Field(description="The known amounts' sum.")


class PlanPublic(OutputModel):
    partner_hidden: ClassVar[frozenset[str]] = frozenset({"created_by", "approved_by"})

    id: int
    series_id: int
    version: int
    status: PlanStatus
    is_current: bool = Field(description="The newest approved version of its series.")
    province_code: str
    programme_code: str
    start_year: int
    end_year: int
    title: str
    notes: str
    targets: Targets
    lines: list[LinePublic]
    totals_by_source: dict[str, int] = Field(
        description="Each source the lines name, with its known amounts' sum."
    )
    total: int
    created_by: str | None = Field(description="Who wrote it; null for partners.")
    created_at: datetime
    updated_at: datetime
    approved_by: str | None = Field(description="Who approved it; null for partners.")
    approved_at: datetime | None


class PlanSummary(OutputModel):
    id: int
    series_id: int
    version: int
    status: PlanStatus
    is_current: bool
    province_code: str
    programme_code: str
    start_year: int
    end_year: int
    title: str
    total: int
    approved_at: datetime | None


class Figures(OutputModel):
    """Planned against actual, in đồng; percentages of the planned amount."""

    planned: int
    committed: int
    received: int
    allocated: int
    spent: int | None = Field(
        default=None,
        description="Spending on the line (…/spending) plus allocations to clubs' funds: the "
        "plan's actual for the year-end settlement (quyết toán). Null where a report does not "
        "count spending.",
    )
    received_pct: float | None
    execution_pct: float | None = Field(description="Allocated ÷ planned × 100.")
    spent_pct: float | None = Field(default=None, description="Spent ÷ planned × 100.")


class LineExecution(Figures):
    number: int
    activity: str | None = Field(
        description="None for money recorded against a line number this version no longer has."
    )
    content: str | None
    by_source: dict[str, Figures]


class PlanExecution(OutputModel):
    plan_id: int
    version: int
    on: date
    funder_id: int | None = Field(
        description="Set for partners: committed, received and allocated count only this "
        "funder's money."
    )
    lines: list[LineExecution]
    by_source: dict[str, Figures]
    total: Figures


class AreaExecution(OutputModel):
    """Plans against actual over many plans (a province, the caller's area, the country)."""

    on: date
    year: int | None
    programme_code: str | None
    province_code: str | None
    plans: int
    by_activity: dict[str, Figures]
    by_source: dict[str, Figures]
    by_province: dict[str, Figures]
    total: Figures
