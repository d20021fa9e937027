"""What goes over the wire for the programme indicators: one row per indicator, as exported."""

from datetime import date
from enum import StrEnum

from pydantic import Field

from common.schemas import OutputModel


class Section(StrEnum):
    CLUBS = "clubs"
    MEMBERS = "members"
    ACTIVITIES = "activities"
    MONEY = "money"
    FUNDING = "funding"


class TargetUnit(StrEnum):
    PERCENT = "percent"
    COUNT = "count"


class Indicator(OutputModel):
    section: Section
    name: str = Field(description="e.g. `clubs_running_all_eight`, `received.socialisation`.")
    value: int | None = Field(description="None when the service that knows it did not answer.")
    share_pct: float | None = Field(
        description="The value as a share of its whole (e.g. of active members), %."
    )
    target: int | None = Field(description="At least this (a share or a count, see the unit).")
    target_unit: TargetUnit | None
    target_source: str | None = Field(
        description='Whose target: "programme 1336" (the decision) or "plan" (the province '
        "plans covering the period, summed)."
    )
    met: bool | None = Field(description="None when there is no target or no figure.")


class IndicatorReport(OutputModel):
    period_from: date
    period_to: date
    province_code: str | None
    funder_id: int | None = Field(description="Set when the report covers one funder's clubs.")
    programme_code: str | None = Field(description="The programme whose targets are shown.")
    plans: int = Field(description="Current approved province plans covering the period.")
    indicators: list[Indicator]
    missing: list[str] = Field(
        description='Sections left empty because a service did not answer, e.g. ["clubs", '
        '"members", "activities"] without the clubs service or ["money"] without loans.'
    )
