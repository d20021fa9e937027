"""What goes over the wire for indicators and targets."""

from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field

from common.schemas import InputModel, OutputModel, WrittenDay
from services.funding.targets.catalogue import Counted, Level, Supplier, Unit

AreaCode = Annotated[
    str,
    Field(
        pattern=r"^\d{2,5}$",
        description="Today's province (2 digits) or commune (5), or a former province (2) or "
        "district (3) by its code before the 2025 merger; none for the nation.",
    ),
]
Bound = Annotated[float, Field(ge=0, le=1e15)]


class IndicatorPublic(OutputModel):
    code: str = Field(description="Stable: reports, exports and targets refer to it.")
    unit: Unit
    counted: Counted
    name_vi: str
    name_en: str
    definition: str
    numerator: str | None = Field(description="A share's count (its own code).")
    denominator: str | None = Field(description="A share's whole.")
    parameter: str | None = Field(description="What a target of it must also give.")
    supplied_by: list[Supplier] = Field(description="The services that count it.")
    levels: list[Level] = Field(description="The areas it can be asked for and promised at.")


class Area(InputModel):
    level: Level
    code: AreaCode | None = None


class AreaPublic(OutputModel):
    level: Level
    code: str | None
    name: str | None = Field(description="The unit's name (as it was, for a former one).")


class TargetIn(InputModel):
    """One promise: an indicator over an area and a period, at least `minimum`, at most
    `maximum`, or between the two (women 60–70 %: 60 and 70)."""

    indicator: Annotated[str, Field(min_length=1, max_length=60, examples=["members.women_share"])]
    area: Area
    period_from: WrittenDay | None = Field(
        default=None,
        description="None: a milestone by `period_to`, counted from the plan's (or phase's) "
        "first day.",
    )
    period_to: WrittenDay = Field(description="The period's last day, or the milestone's date.")
    minimum: Bound | None = Field(default=None, description="At least this.")
    maximum: Bound | None = Field(default=None, description="At most this.")
    parameter: Annotated[int, Field(ge=0, le=10**15)] | None = Field(
        default=None, description="What the indicator needs besides (e.g. a fund's amount, đồng)."
    )
    each_year: bool = Field(
        default=False, description="The bound holds for each calendar year of the period."
    )
    wording: Annotated[str, Field(max_length=1000)] = Field(
        default="", description="The plan's own sentence, as written."
    )


class TargetPublic(OutputModel):
    id: int
    plan_id: int | None
    programme_code: str | None
    indicator: str
    unit: Unit
    area: AreaPublic
    period_from: date | None
    period_to: date
    minimum: float | None
    maximum: float | None
    parameter: int | None
    each_year: bool
    wording: str
    created_by: str
    created_at: datetime


class Verdict(StrEnum):
    MET = "met"
    NOT_MET = "not_met"
    NOT_COUNTED = "not_counted"
    """No service counts the indicator for this area yet, or it did not answer: `missing` says."""
    NOT_STARTED = "not_started"
    """The target's period begins after the report's date."""


class PeriodFigure(OutputModel):
    period_from: date
    period_to: date
    figure: float | None = Field(description="None: not counted (the service did not answer).")


class TargetResult(OutputModel):
    target: TargetPublic
    verdict: Verdict
    period_from: WrittenDay | None = Field(
        default=None, description="The period counted (none for an indicator counted on a date)."
    )
    period_to: date = Field(description="The last day counted (or the date counted on).")
    figure: float | None = Field(
        default=None,
        description="What was done (a share in %); for a target of each year, the year furthest "
        "from it.",
    )
    gap: float | None = Field(
        default=None,
        description="How far the figure is below the minimum or above the maximum (0: within).",
    )
    missing: str | None = Field(default=None, description="Why there is no figure.")
    years: list[PeriodFigure] | None = Field(
        default=None, description="Each year's figure, for a target that holds each year."
    )
    previous: list[PeriodFigure] = Field(
        default_factory=list, description="The same figure one and two years before (the trend)."
    )


class TargetReport(OutputModel):
    plan_id: int | None
    programme_code: str | None
    heading: str | None = Field(
        default=None,
        description="What the report is of, as a document names it: the plan's title, "
        "province and years, or the programme phase's name, decision and years.",
    )
    on: date = Field(description="Counted as far as this day.")
    met: int
    not_met: int
    not_counted: int
    results: list[TargetResult]


class ProvincesTarget(OutputModel):
    """What the provinces' plans promise for one indicator, added up, beside the phase's own."""

    indicator: str
    provinces_minimum: float = Field(
        description="The provinces' minimums added up (targets over a province, today's or "
        "former, of the phase's current approved plans)."
    )
    provinces: int = Field(description="The provinces whose plans state it.")
    programme_minimum: float | None = Field(description="The phase's own national minimum.")


class ProvinceStanding(OutputModel):
    province_code: str
    province_name: str
    plans: int
    met: int
    not_met: int
    not_counted: int
    distance: float = Field(
        description="How far the province is from its targets: the mean, over its targets "
        "counted, of the gap as a share of the target's bound (0: every target met)."
    )


class NationalTargetReport(OutputModel):
    programme_code: str
    on: date
    programme: list[TargetResult] = Field(description="The phase's own targets.")
    provinces_targets: list[ProvincesTarget]
    provinces: list[ProvinceStanding] = Field(
        description="The provinces with current approved plans of the phase, furthest from "
        "their targets first."
    )
