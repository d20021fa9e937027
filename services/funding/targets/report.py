"""What a plan or a programme phase promised beside what was done: each target's figure for
its area and period (as far as a date), its result and its gap, by year where it holds each
year, and the same figure for the two periods before (the trend).

The clubs service counts the registry's indicators for any area, today's or a former one
(`POST /api/v1/clubs/indicators`), the loans service its funds and borrowers for today's
areas, or for a former area's clubs as the clubs service lists them
(`POST /api/v1/loans/indicators`), each asked once per area and period, with the caller's own
token (an officer's scope applies there too). This service counts the rest from its own
tables: clubs trained and monitored (its events), money raised, allocated and spent. An
indicator no service counts for such an area is reported `not_counted`, with the reason,
never as 0 or as met.
"""

import asyncio
import calendar
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from fastapi import Request
from sqlalchemy import Engine
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from common import places
from common.auth import Principal, Role, bearer_token
from common.club_directory import ClubDirectory
from common.db import reader
from common.problems import ServiceUnavailable
from common.service_client import ServiceClient
from services.funding.indicators.sources import IndicatorSources
from services.funding.targets import service
from services.funding.targets.catalogue import (
    CATALOGUE,
    COVERAGE_TYPES,
    Counted,
    Level,
)
from services.funding.targets.models import Target
from services.funding.targets.schemas import (
    PeriodFigure,
    TargetResult,
    Verdict,
)
from services.funding.work import indicators as work

Source = tuple[str, str]
"""A figure in a service's aggregate: (service, path in its answer)."""
CLUBS, LOANS = "clubs", "loans"
OwnCount = Callable[[Session, work.Area, date, date], int]
OWN: dict[str, OwnCount] = {
    "support.clubs_trained": work.clubs_trained,
    "support.clubs_monitored": work.clubs_monitored,
    "money.raised": work.raised,
    "money.allocated": work.allocated,
    "money.spent": work.spent,
}
"""The indicators this service counts from its own tables (at the levels the catalogue
offers them at)."""
AREA_NAMES = {
    Level.PROVINCE: "province_code",
    Level.COMMUNE: "commune_code",
    Level.FORMER_PROVINCE: "former_province_code",
    Level.FORMER_DISTRICT: "former_district_code",
}
FIGURES: dict[str, tuple[Source, Source | None]] = {
    "clubs.founded": ((CLUBS, "clubs.founded_in_period"), None),
    "clubs.active": ((CLUBS, "clubs.active"), None),
    "clubs.maintained": ((CLUBS, "clubs.maintained"), None),
    "clubs.maintained_share": ((CLUBS, "clubs.maintained"), (CLUBS, "clubs.active_at_start")),
    "clubs.dissolved": ((CLUBS, "clubs.dissolved_in_period"), None),
    "coverage.former_districts": ((CLUBS, "former_districts_with_club"), None),
    "support.health_checks": ((CLUBS, "health_checks"), None),
    "members.total": ((CLUBS, "members.members"), None),
    "members.older": ((CLUBS, "members.older"), None),
    "members.older_share": ((CLUBS, "members.older"), (CLUBS, "members.members")),
    "members.women": ((CLUBS, "members.women"), None),
    "members.women_share": ((CLUBS, "members.women"), (CLUBS, "members.members")),
    "members.younger": ((CLUBS, "members.younger"), None),
    "members.younger_share": ((CLUBS, "members.younger"), (CLUBS, "members.members")),
    "members.priority": ((CLUBS, "members.priority"), None),
    "members.priority_share": ((CLUBS, "members.priority"), (CLUBS, "members.members")),
    "clubs.running_all_areas": ((CLUBS, "clubs_running_all_eight"), None),
    "clubs.running_all_areas_share": (
        (CLUBS, "clubs_running_all_eight"),
        (CLUBS, "clubs.active"),
    ),
    "clubs.with_both_funds": ((LOANS, "clubs_with_both_funds"), None),
    "clubs.with_both_funds_share": ((LOANS, "clubs_with_both_funds"), (CLUBS, "clubs.active")),
    "clubs.fund_at_least": ((LOANS, "clubs_with_income_fund_at_least"), None),
    "clubs.fund_at_least_share": (
        (LOANS, "clubs_with_income_fund_at_least"),
        (CLUBS, "clubs.active"),
    ),
    "members.borrowed": ((LOANS, "members_borrowed_in_period"), None),
    "members.borrowed_share": (
        (LOANS, "members_borrowed_in_period"),
        (CLUBS, "members.members"),
    ),
}
"""The indicators the services' aggregates answer: its figure, and for a share its whole."""
TREND_PERIODS = 2
NOT_COUNTED_AT = "not counted at the level of a"


@dataclass(frozen=True)
class Window:
    start: date
    end: date


@dataclass(frozen=True)
class Aggregate:
    """A service's aggregate of an area and a period: where it is asked, the areas it can
    count (by the field that names each), and how it takes the period."""

    path: str
    area_fields: dict[Level, str]
    period: Callable[[Window], dict[str, str]]
    by_club_ids: dict[Level, str] = field(default_factory=dict)
    """Areas it counts as a list of clubs: the clubs service's list filter that gives them."""

    def counts_at(self, level: Level) -> bool:
        return level is Level.NATION or level in self.area_fields or level in self.by_club_ids


AGGREGATES = {
    CLUBS: Aggregate(
        "/api/v1/clubs/indicators",
        {
            Level.PROVINCE: "province",
            Level.COMMUNE: "commune",
            Level.FORMER_PROVINCE: "former_province",
            Level.FORMER_DISTRICT: "former_district",
        },
        lambda window: {"from": window.start.isoformat(), "to": window.end.isoformat()},
    ),
    LOANS: Aggregate(
        "/api/v1/loans/indicators",
        {Level.PROVINCE: "province", Level.COMMUNE: "commune"},
        lambda window: {"from": window.start.isoformat(), "on": window.end.isoformat()},
        {Level.FORMER_PROVINCE: "former_province", Level.FORMER_DISTRICT: "former_district"},
    ),
}


@dataclass
class Figures:
    """The services' aggregates asked so far in one report, by service, area and period, with
    the caller's own token (None: this service's)."""

    clients: dict[str, ServiceClient]
    token: str | None
    engine: Engine
    """This service's database, for what it counts itself (a session of its own per count:
    the targets are judged side by side)."""
    asked: dict[
        tuple[str, Level, str | None, Window, int | None],
        asyncio.Task[dict[str, Any] | None],
    ] = field(default_factory=dict)
    """Each aggregate asked once: the targets are judged at once, and those that need the
    same aggregate wait for the one call."""
    club_ids: dict[tuple[str, str], asyncio.Task[list[int]]] = field(default_factory=dict)
    counted: dict[tuple[str, Level, str | None, Window], asyncio.Task[int]] = field(
        default_factory=dict
    )

    @classmethod
    def asked_by(cls, request: Request, principal: Principal) -> "Figures":
        """A report's figures, asked of the services with the caller's own token (a service
        asks with its own)."""
        sources: IndicatorSources = request.app.state.indicator_sources
        token = (
            None
            if principal.role is Role.SERVICE
            else bearer_token(request.headers.get("authorization"))
        )
        clients = {CLUBS: sources.clubs, LOANS: sources.loans}
        return cls(clients, token, reader(request.app.state.engine))

    def all_answered(self) -> bool:
        """Whether every service asked so far answered (call it once the report is built)."""
        return all(task.result() is not None for task in self.asked.values())

    async def own(self, indicator: str, level: Level, code: str | None, window: Window) -> int:
        key = (indicator, level, code, window)
        if key not in self.counted:
            self.counted[key] = asyncio.create_task(
                run_in_threadpool(self._count, indicator, level, code, window)
            )
        return await self.counted[key]

    def _count(self, indicator: str, level: Level, code: str | None, window: Window) -> int:
        count = OWN[indicator]
        area = work.Area(**{AREA_NAMES[level]: code}) if level in AREA_NAMES else work.Area()
        with Session(self.engine) as session:
            return count(session, area, window.start, window.end)

    async def of(
        self,
        source: str,
        level: Level,
        code: str | None,
        window: Window,
        parameter: int | None = None,
    ) -> dict[str, Any] | None:
        """`parameter`: what the loans service's fund count needs (a fund's amount)."""
        key = (source, level, code, window, parameter if source == LOANS else None)
        if key not in self.asked:
            aggregate = AGGREGATES[source]
            body: dict[str, Any] = aggregate.period(window)
            if level in aggregate.area_fields:
                body[aggregate.area_fields[level]] = code
            if key[-1] is not None:
                body["fund_at_least"] = key[-1]
            listed = aggregate.by_club_ids.get(level)
            self.asked[key] = asyncio.create_task(
                self._post(source, aggregate.path, body, None if listed is None else (listed, code))
            )
        return await self.asked[key]

    def _clubs_of(self, listed: tuple[str, str]) -> asyncio.Task[list[int]]:
        if listed not in self.club_ids:
            lookup = ClubDirectory(self.clients[CLUBS]).ids_of(**{listed[0]: listed[1]})
            self.club_ids[listed] = asyncio.create_task(lookup)
        return self.club_ids[listed]

    async def _post(
        self,
        source: str,
        path: str,
        body: dict[str, Any],
        listed: tuple[str, str | None] | None,
    ) -> dict[str, Any] | None:
        try:
            if listed is not None and listed[1] is not None:
                body["club_ids"] = await self._clubs_of((listed[0], listed[1]))
            answer = await self.clients[source].request(
                "POST", path, on_behalf_of=self.token, json=body
            )
        except ServiceUnavailable:
            return None
        if answer.status_code != 200:
            return None
        found: dict[str, Any] = answer.json()
        return found


AVERAGE_FUND = "funds.average_per_club"


def _sources(indicator: str) -> list[Source]:
    if indicator in COVERAGE_TYPES or indicator.removesuffix("_share") in COVERAGE_TYPES:
        return [(CLUBS, "communes_with_club")]
    if indicator == AVERAGE_FUND:
        return [(LOANS, "income_funds_held"), (CLUBS, "clubs.active")]
    counted, whole = FIGURES[indicator]
    return [counted] if whole is None else [counted, whole]


def counts(indicator: str, level: Level) -> bool:
    """Whether the services' aggregates, or this service, count this indicator at this level."""
    if indicator in OWN:
        return level in CATALOGUE[indicator].levels
    if indicator.removesuffix("_share") in COVERAGE_TYPES:
        return level in (Level.NATION, Level.PROVINCE)
    return (indicator in FIGURES or indicator == AVERAGE_FUND) and all(
        AGGREGATES[source].counts_at(level) for source, _ in _sources(indicator)
    )


def _coverage(answer: dict[str, Any], indicator: str, code: str | None) -> float:
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


def _at(answer: dict[str, Any], path: str) -> float:
    found: Any = answer
    for part in path.split("."):
        found = found[part]
    return float(found)


async def figure(
    figures: Figures,
    indicator: str,
    level: Level,
    code: str | None,
    window: Window,
    parameter: int | None = None,
) -> float | None:
    """The indicator's figure for the area and period; None when a service did not answer."""
    if indicator in OWN:
        return float(await figures.own(indicator, level, code, window))
    answers = {}
    for source, _ in _sources(indicator):
        answer = await figures.of(source, level, code, window, parameter)
        if answer is None:
            return None
        answers[source] = answer
    if indicator.removesuffix("_share") in COVERAGE_TYPES:
        return _coverage(answers[CLUBS], indicator, code)
    if indicator == AVERAGE_FUND:  # đồng per active club, whole
        clubs = _at(answers[CLUBS], "clubs.active")
        return float(int(_at(answers[LOANS], "income_funds_held") // clubs)) if clubs else None
    (source, path), whole = FIGURES[indicator]
    value = _at(answers[source], path)
    if whole is None:
        return value
    base = _at(answers[whole[0]], whole[1])
    return round(value * 100 / base, 2) if base else None


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


async def result(target: Target, start: date, on: date, figures: Figures) -> TargetResult:
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
            missing=f"{NOT_COUNTED_AT} {level.value.replace('_', ' ')}",
        )

    async def figure_of(span: Window) -> PeriodFigure:
        value = await figure(figures, target.indicator, level, code, span, target.parameter)
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
        shown.missing = "a service that counts it did not answer, or its whole is 0"
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


async def results(
    targets: list[tuple[Target, date]], on: date, figures: Figures
) -> list[TargetResult]:
    """The results of these targets (each with its plan's or phase's first day), judged at
    once: the services answer their aggregates side by side."""
    return list(
        await asyncio.gather(*(result(target, start, on, figures) for target, start in targets))
    )
