"""What a plan or a programme phase promised beside what was done: each target's figure for
its area and period (as far as a date), its result and its gap, by year where it holds each
year, and the same figure for the two periods before (the trend).

The clubs service counts the registry's indicators for any area, today's or a former one
(`POST /api/v1/clubs/indicators`), asked once per area and period, with the caller's own token
(an officer's scope applies there too). An indicator no service counts for such an area yet is
reported `not_counted`, with the reason, never as 0 or as met.
"""

import calendar
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from common import places
from common.problems import ServiceUnavailable
from common.service_client import ServiceClient
from services.funding.targets import service
from services.funding.targets.catalogue import CATALOGUE, COVERAGE_TYPES, Counted, Level
from services.funding.targets.models import Target
from services.funding.targets.schemas import (
    PeriodFigure,
    TargetResult,
    Verdict,
)

CLUB_FIGURES: dict[str, tuple[str, str | None]] = {
    "clubs.founded": ("clubs.founded_in_period", None),
    "clubs.active": ("clubs.active", None),
    "clubs.maintained": ("clubs.maintained", None),
    "clubs.dissolved": ("clubs.dissolved_in_period", None),
    "members.total": ("members.members", None),
    "members.older": ("members.older", None),
    "members.older_share": ("members.older", "members.members"),
    "members.women": ("members.women", None),
    "members.women_share": ("members.women", "members.members"),
    "members.younger": ("members.younger", None),
    "members.younger_share": ("members.younger", "members.members"),
    "members.priority": ("members.priority", None),
    "members.priority_share": ("members.priority", "members.members"),
    "clubs.running_all_areas": ("clubs_running_all_eight", None),
    "clubs.running_all_areas_share": ("clubs_running_all_eight", "clubs.active"),
}
"""The indicators the clubs' aggregate answers: (its figure, and for a share its whole)."""
AREA_FIELDS = {
    Level.PROVINCE: "province",
    Level.COMMUNE: "commune",
    Level.FORMER_PROVINCE: "former_province",
    Level.FORMER_DISTRICT: "former_district",
}
CLUBS_INDICATORS = "/api/v1/clubs/indicators"
TREND_PERIODS = 2


@dataclass(frozen=True)
class Window:
    start: date
    end: date


Ask = Callable[[Level, str | None, Window], Awaitable[dict[str, Any] | None]]


@dataclass
class ClubFigures:
    """The clubs' aggregates asked so far in one report, by area and period."""

    client: ServiceClient
    token: str | None
    asked: dict[tuple[Level, str | None, Window], dict[str, Any] | None] = field(
        default_factory=dict
    )

    async def of(self, level: Level, code: str | None, window: Window) -> dict[str, Any] | None:
        key = (level, code, window)
        if key not in self.asked:
            body: dict[str, Any] = {"from": window.start.isoformat(), "to": window.end.isoformat()}
            if level in AREA_FIELDS:
                body[AREA_FIELDS[level]] = code
            self.asked[key] = await self._post(body)
        return self.asked[key]

    async def _post(self, body: dict[str, Any]) -> dict[str, Any] | None:
        try:
            answer = await self.client.request(
                "POST", CLUBS_INDICATORS, on_behalf_of=self.token, json=body
            )
        except ServiceUnavailable:
            return None
        if answer.status_code != 200:
            return None
        found: dict[str, Any] = answer.json()
        return found


def _coverage(answer: dict[str, Any], indicator: str, level: Level, code: str | None) -> float:
    """Communes with a club (of one type, or every type), or their share of the area's."""
    count = indicator.removesuffix("_share")
    division = COVERAGE_TYPES[count][0]
    with_club = answer["communes_with_club"]
    value = sum(n for kind, n in with_club.items() if division is None or kind == division)
    if count == indicator:
        return float(value)
    units = places.communes().values() if code is None else places.communes_by_province()[code]
    whole = sum(1 for unit in units if division is None or unit.division_type == division)
    return round(value * 100 / whole, 2) if whole else 0.0


def counts(indicator: str, level: Level) -> bool:
    """Whether the clubs' aggregate counts this indicator at this level."""
    if indicator.startswith("coverage.") and indicator != "coverage.former_districts":
        return level in (Level.NATION, Level.PROVINCE)
    return indicator in CLUB_FIGURES


def _figure(answer: dict[str, Any], indicator: str, level: Level, code: str | None) -> float | None:
    if indicator.startswith("coverage."):
        return _coverage(answer, indicator, level, code)
    counted, whole = CLUB_FIGURES[indicator]
    value = _at(answer, counted)
    if whole is None:
        return value
    base = _at(answer, whole)
    return None if not base else round(value * 100 / base, 2)


def _at(answer: dict[str, Any], path: str) -> float:
    found: Any = answer
    for part in path.split("."):
        found = found[part]
    return float(found)


def verdict(figure: float, minimum: Decimal | None, maximum: Decimal | None) -> tuple[bool, float]:
    """Whether the figure is within the bounds, and how far outside it is (0 within)."""
    if minimum is not None and figure < minimum:
        return False, float(minimum) - figure
    if maximum is not None and figure > maximum:
        return False, figure - float(maximum)
    return True, 0.0


def _shifted(day: date, years: int) -> date:
    last = calendar.monthrange(day.year - years, day.month)[1]
    return day.replace(year=day.year - years, day=min(day.day, last))


def _window(target: Target, start: date, on: date) -> Window | None:
    """The period counted as far as `on`; None before it begins. An indicator counted on a
    date is counted on the target's date, or on `on` before it: it always has a figure."""
    end = min(target.period_to, on)
    if CATALOGUE[target.indicator].counted is Counted.ON_DATE:
        return Window(end, end)
    first = target.period_from or start
    return Window(first, end) if end >= first else None


def _years(window: Window) -> list[Window]:
    return [
        Window(max(window.start, date(year, 1, 1)), min(window.end, date(year, 12, 31)))
        for year in range(window.start.year, window.end.year + 1)
    ]


async def result(target: Target, start: date, on: date, figures: ClubFigures) -> TargetResult:
    """One target's result as far as `on` (`start`: its plan's or phase's first day)."""
    public = service.public(target)
    window = _window(target, start, on)
    if window is None:
        return TargetResult(target=public, verdict=Verdict.NOT_STARTED, period_to=on)
    counted = CATALOGUE[target.indicator]
    period_from = None if counted.counted is Counted.ON_DATE else window.start
    level, code = Level(target.area_level), target.area_code
    if not counts(target.indicator, level):
        return TargetResult(
            target=public,
            verdict=Verdict.NOT_COUNTED,
            period_from=period_from,
            period_to=window.end,
            missing=f"not counted yet for a {level.value.replace('_', ' ')}",
        )

    async def figure_of(span: Window) -> PeriodFigure:
        answer = await figures.of(level, code, span)
        value = None if answer is None else _figure(answer, target.indicator, level, code)
        return PeriodFigure(period_from=span.start, period_to=span.end, figure=value)

    each = [await figure_of(span) for span in (_years(window) if target.each_year else [window])]
    earlier = [
        Window(_shifted(window.start, years), _shifted(window.end, years))
        for years in range(1, TREND_PERIODS + 1)
    ]
    previous = [await figure_of(span) for span in earlier]
    shown = TargetResult(
        target=public,
        verdict=Verdict.NOT_COUNTED,
        period_from=period_from,
        period_to=window.end,
        years=each if target.each_year else None,
        previous=previous,
    )
    return _judged(shown, each, target)


def _judged(shown: TargetResult, each: list[PeriodFigure], target: Target) -> TargetResult:
    """The verdict over every period counted (every year of a target of each year): met when
    each is within the bounds; the figure and gap shown are the furthest from them."""
    if any(span.figure is None for span in each):
        shown.missing = "the clubs service did not answer"
        return shown
    judged = [
        (span.figure, *verdict(span.figure, target.minimum, target.maximum))
        for span in each
        if span.figure is not None
    ]
    figure, _, gap = max(judged, key=lambda item: item[2])
    shown.verdict = Verdict.MET if all(met for _, met, _ in judged) else Verdict.NOT_MET
    shown.figure, shown.gap = figure, gap
    return shown
