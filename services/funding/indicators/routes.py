"""`GET /api/v1/reports/indicators`: the programme's indicators against their targets for the
country, a province or one funder's clubs, over a period or on a date; JSON, XLSX or CSV.

The clubs and loans services each answer their part in one aggregate call, asked at the same
time as this service reads its programmes, plans and money; a service that does not answer
leaves its sections empty and named in `missing`.
"""

import asyncio
import time
from dataclasses import dataclass
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from common import clock
from common.auth import CurrentPrincipal, Principal, Role, bearer_token, require_roles
from common.db import SessionDep
from common.export import FILE_ANSWERS, FileFormat, file_answer
from common.problem_codes import Code
from common.problems import Forbidden, NotFound, invalid
from common.schemas import Id, ReportDate
from services.funding.catalogue.models import Programme
from services.funding.indicators import export, report
from services.funding.indicators.schemas import IndicatorReport
from services.funding.indicators.sources import Ask, IndicatorSources, IndicatorSourcesDep
from services.funding.plans.schemas import Figures, ProvinceCode
from services.funding.scope import READERS, asked_funder, asked_programme

router = APIRouter(
    prefix="/api/v1/reports",
    tags=["reports"],
    dependencies=[Depends(require_roles(*READERS))],
)
CLUB_SECTIONS = ["clubs", "members", "activities"]
MONEY_SECTIONS = ["money"]


@dataclass(frozen=True)
class Scope:
    """What one report covers, checked against the caller's scope."""

    start: date
    end: date
    province: str | None
    funder_id: int | None
    programme: Programme | None


def _period(start: date | None, end: date | None, on: date | None) -> tuple[date, date]:
    if on is not None:
        if start is not None or end is not None:
            reason = "give a date or a period (from, to), not both"
            raise invalid("on", reason, "query", code=Code.MUTUALLY_EXCLUSIVE)
        return on, on
    end = end or clock.today()
    start = start or date(end.year, 1, 1)
    if start > end:
        raise invalid("from", "is after 'to'", "query", code=Code.DATE_OUT_OF_ORDER)
    return start, end


def _scope(
    session: Session,
    principal: Principal,
    period: tuple[date, date],
    province: str | None,
    funder_id: int | None,
    programme_code: str | None,
) -> Scope:
    if province and principal.role is Role.OFFICER and province not in principal.provinces:
        raise NotFound(f"No province {province} in your area.")
    if principal.role is Role.PARTNER:
        if principal.funder_id is None:
            raise Forbidden("This partner token names no funder.", code=Code.FUNDER_MISSING)
        asked_funder(session, principal, funder_id)
        funder_id = principal.funder_id
    asked_funder(session, principal, funder_id)
    if programme_code is None:
        programme = report.programme_in_force(session, period[1].year)
    else:
        asked_programme(session, programme_code)
        programme = session.get(Programme, programme_code)
    return Scope(period[0], period[1], province, funder_id, programme)


@dataclass(frozen=True)
class OwnFigures:
    """What this service knows besides the clubs asked about: the targets, money by source."""

    targets: report.Targets
    by_source: dict[str, Figures]


def _ask(session: Session, principal: Principal, scope: Scope, token: str | None) -> Ask:
    """Which clubs the other services count, and with whose token."""
    if scope.funder_id is None:
        # The other services apply the caller's own scope (an officer's communes too).
        return Ask(scope.province, None, token)
    club_ids = report.funder_club_ids(
        session, principal, scope.funder_id, scope.province, scope.end
    )
    return Ask(scope.province, club_ids, None)


def _own_figures(session: Session, principal: Principal, scope: Scope) -> OwnFigures:
    year = scope.end.year
    view = principal if scope.funder_id is None else report.funder_view(principal, scope.funder_id)
    provinces: list[str | None] = [scope.province]
    if scope.funder_id is not None and scope.province is None and principal.role is Role.OFFICER:
        # A funder's view no longer carries the officer's provinces: ask each of them.
        provinces = list(principal.provinces)
    goals = report.targets(
        session, principal, scope.programme, scope.province, year, scope.funder_id is None
    )
    period = (scope.start, scope.end)
    return OwnFigures(goals, report.funding_by_source(session, view, provinces, period))


async def build(
    token: str | None,
    session: Session,
    principal: Principal,
    sources: IndicatorSources,
    scope: Scope,
    deadline: float,
) -> IndicatorReport:
    """The report as `principal` asks it; `token` is theirs, so the other services apply their
    scope (None: this service's own token, for an admin's report made by a worker)."""
    ask = await run_in_threadpool(_ask, session, principal, scope, token)
    # The other services count while this one reads its plans and money.
    asked = asyncio.gather(
        sources.club_figures(ask, scope.start, scope.end, deadline),
        sources.money_figures(ask, scope.end, deadline),
    )
    try:
        own = await run_in_threadpool(_own_figures, session, principal, scope)
    except BaseException:
        asked.cancel()
        raise
    clubs, money = await asked
    rows = report.Rows()
    report.club_rows(rows, clubs, own.targets)
    # A partner's figures are about its own money: the clubs' fund capital and loans hold
    # other funders' money too, so their amounts would tell what the others gave.
    amounts = principal.role is not Role.PARTNER
    report.money_rows(rows, money, clubs, own.targets, amounts)
    report.funding_rows(rows, own.by_source)
    missing = (CLUB_SECTIONS if clubs is None else []) + (MONEY_SECTIONS if money is None else [])
    return IndicatorReport(
        period_from=scope.start,
        period_to=scope.end,
        province_code=scope.province,
        funder_id=scope.funder_id,
        programme_code=own.targets.programme_code,
        plans=own.targets.plans,
        indicators=rows.items,
        missing=missing,
    )


async def report_this_year(
    session: Session, principal: Principal, sources: IndicatorSources, province: str | None
) -> IndicatorReport:
    """The report of this year so far for the country or a province, as an admin's worker
    makes it (the reconciliation compares them)."""
    scope = await run_in_threadpool(
        _scope, session, principal, _period(None, None, None), province, None, None
    )
    return await build(None, session, principal, sources, scope, sources.deadline(time.monotonic()))


@router.get(
    "/indicators",
    response_model=IndicatorReport,
    summary="Programme indicators against their targets (JSON, XLSX or CSV)",
    responses=FILE_ANSWERS,
)
async def indicators(
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    sources: IndicatorSourcesDep,
    province: ProvinceCode | None = None,
    funder_id: Annotated[
        Id | None, Query(description="One funder's clubs; partners always get their own.")
    ] = None,
    date_from: Annotated[ReportDate | None, Query(alias="from")] = None,
    date_to: Annotated[ReportDate | None, Query(alias="to")] = None,
    on: Annotated[ReportDate | None, Query(description="One day instead of a period.")] = None,
    programme: Annotated[
        str | None,
        Query(max_length=30, description="Targets of this programme; default: in force."),
    ] = None,
    format: FileFormat = "json",
) -> IndicatorReport | Response:
    token = bearer_token(request.headers.get("authorization"))
    period = _period(date_from, date_to, on)
    scope = await run_in_threadpool(
        _scope, session, principal, period, province, funder_id, programme
    )
    result = await build(
        token, session, principal, sources, scope, sources.deadline(time.monotonic())
    )
    if format == "json":
        return result
    data = export.to_xlsx(result) if format == "xlsx" else export.to_csv(result)
    return file_answer(
        data, format, f"indicators-{scope.start.isoformat()}-{scope.end.isoformat()}"
    )
