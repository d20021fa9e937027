"""`GET /api/v1/funded-clubs/{club_id}`: one funded club as its funder sees it.

A partner follows the clubs it funds: what it gave them, and how each is doing on a date —
its members and their composition, how many borrowed (from the club's fund or the bank), its
activities by area — as counts and shares, never a member's row nor another funder's money.
The clubs and loans services count for the one club (asked with this service's token: partners
may not read them); one that cannot answer leaves its sections empty and named in `missing`.
"""

import asyncio
import time
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy import ColumnElement
from sqlmodel import Session, col
from starlette.concurrency import run_in_threadpool

from common import clock
from common.auth import CurrentPrincipal, Principal, require_roles
from common.club_directory import ClubDirectoryDep
from common.db import SessionDep
from common.problem_codes import Code
from common.problems import NotFound, invalid
from common.schemas import IdPath, ReportDate
from services.funding.flows.models import Allocation
from services.funding.indicators.sources import Ask, IndicatorSourcesDep
from services.funding.reports import funded_clubs
from services.funding.reports.schemas import (
    ClubActivities,
    ClubBorrowing,
    ClubMembers,
    FundedClub,
    FundedClubProfile,
)
from services.funding.rules import percent
from services.funding.scope import READERS

router = APIRouter(
    prefix="/api/v1/funded-clubs",
    tags=["funded clubs"],
    dependencies=[Depends(require_roles(*READERS))],
)
SHARED = ("women", "older", "younger", "priority")
"""The member counts also given as a share of the members."""
NO_FILTERS: funded_clubs.Filters = {
    "funder_id": None,
    "province": None,
    "programme": None,
    "source": None,
    "date_from": None,
    "date_to": None,
}


def _funding(session: Session, principal: Principal, club_id: int) -> FundedClub:
    """The club's money the caller may see (a partner: its own); 404 if none."""
    visible: list[ColumnElement[bool]] = [
        *funded_clubs.allocation_conditions(principal, **NO_FILTERS, own_only=True),
        col(Allocation.club_id) == club_id,
    ]
    rows = list(session.execute(funded_clubs.club_totals(visible)).all())
    if not rows:
        raise NotFound(f"No funded club {club_id} in your scope.")
    items = funded_clubs.club_items(session, principal, NO_FILTERS, visible, rows)
    return items[0]


def _members(figures: dict[str, Any]) -> tuple[ClubMembers, bool]:
    counts = figures["members"]
    whole = counts["members"]
    members = ClubMembers(
        **counts,
        **{f"{name}_pct": percent(counts[name], whole) for name in SHARED},
    )
    return members, figures["clubs_compliant"] == 1


def _borrowing(money: dict[str, Any], members: int | None) -> ClubBorrowing:
    borrowers = money["members_with_loan"]
    return ClubBorrowing(
        members_with_club_loan=money["members_with_club_loan"],
        members_with_bank_loan=money["members_with_bank_loan"],
        members_with_loan=borrowers,
        share_pct=percent(borrowers, members) if members is not None else None,
    )


def _activities(figures: dict[str, Any]) -> ClubActivities:
    by_area: dict[str, int] = figures["activities_by_area"]
    return ClubActivities(
        by_area=by_area,
        held=sum(by_area.values()),
        all_eight_areas=figures["clubs_running_all_eight"] == 1,
        meetings_held=figures["meetings_held"],
    )


@router.get(
    "/{club_id}",
    response_model=FundedClubProfile,
    summary="One funded club: the money you gave it, its members, borrowers and activities",
    description="For a partner, one of the clubs its funder gave money to (any other club "
    "answers 404, whether it exists or not); officers and admins, any funded club in their "
    "area. Members and their composition on `on` (while the club is active), members with a "
    "loan on `on` (the club's fund or the bank), activities held from `from` to `on`: counts "
    "and shares only, never a member's row; a partner sees only its own funder's money.",
)
async def funded_club(
    club_id: IdPath,
    session: SessionDep,
    principal: CurrentPrincipal,
    sources: IndicatorSourcesDep,
    directory: ClubDirectoryDep,
    on: Annotated[ReportDate | None, Query(description="The day; default today.")] = None,
    date_from: Annotated[
        ReportDate | None,
        Query(alias="from", description="The activities' first day; default 1 January."),
    ] = None,
) -> FundedClubProfile:
    day = on or clock.today()
    start = date_from or date(day.year, 1, 1)
    if start > day:
        raise invalid("from", "is after 'on'", "query", code=Code.DATE_OUT_OF_ORDER)
    deadline = sources.deadline(time.monotonic())
    funding = await run_in_threadpool(_funding, session, principal, club_id)
    ask = Ask(None, [club_id], None)
    clubs, money, facts = await asyncio.gather(
        sources.club_figures(ask, start, day, deadline),
        sources.money_figures(ask, day, deadline),
        directory.facts_if_available({club_id}),
    )
    club = (facts or {}).get(club_id)
    if club is not None:
        funding.club_code, funding.club_name, funding.club_status = (
            club.code,
            club.name,
            club.status,
        )
    members, compliant = _members(clubs) if clubs is not None else (None, None)
    whole = members.members if members is not None else None
    missing = (["members", "activities"] if clubs is None else []) + (
        ["borrowing"] if money is None else []
    )
    if club is None:
        missing += ["club.club_code", "club.club_name", "club.club_status"]
    return FundedClubProfile(
        club=funding,
        on=day,
        period_from=start,
        members=members,
        meets_profile=compliant,
        borrowing=_borrowing(money, whole) if money is not None else None,
        activities=_activities(clubs) if clubs is not None else None,
        missing=missing,
    )
