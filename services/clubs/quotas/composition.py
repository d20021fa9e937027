"""Composition of clubs on a date: one club, an area's summary, the clubs that fail."""

from collections.abc import Sequence
from datetime import date
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Query
from sqlalchemy import ColumnElement, Row, Select, case, func
from sqlmodel import Session, col, select

from common import clock, cursor
from common.auth import CurrentPrincipal, Principal, Role, require_roles
from common.cursor import SortKey
from common.db import SessionDep
from common.paging import Paged
from common.problems import NotFound
from common.schemas import Page, PageDep, WrittenDay
from common.vietnamese import ENGLISH, Language, RequestLanguage
from services.clubs.domain import ClubStatus
from services.clubs.models import Club, Member, QuotaProfile
from services.clubs.quotas.rules import (
    COUNT_NAMES,
    CountColumns,
    compliant_condition,
    counts_by_club,
    counts_from_row,
    evaluate,
    older_ages,
    share,
    shares,
)
from services.clubs.quotas.schemas import (
    Composition,
    CompositionSummary,
    Counts,
    NonCompliantClub,
)
from services.clubs.registry.schemas import ProvinceCode
from services.clubs.scope import CLUB_READERS, VisibleClub, club_filter

router = APIRouter(prefix="/api/v1/clubs", tags=["composition"])
OnDate = Annotated[
    WrittenDay | None, Query(description="The date to judge on; today in Vietnam by default.")
]
ProvinceFilter = Annotated[ProvinceCode | None, Query(description="Province code")]
supervisors = [Depends(require_roles(Role.ADMIN, Role.OFFICER, Role.SERVICE))]
AnySelect = TypeVar("AnySelect", bound=Select[*tuple[Any, ...]])


# Queries here read several columns per row, so they run with `session.execute`: SQLModel's
# `exec` would hand back only the first column of a select that started from one column.
def _with_counts(
    query: AnySelect, session: Session, on: date, clubs: ColumnElement[bool] | None
) -> tuple[AnySelect, CountColumns]:
    """Joins a query over `Club` to its profile and its counts on `on`, counted only for the
    members `clubs` selects, so a province's figures never scan the whole country."""
    ages = older_ages(session)
    counts = counts_by_club(on, ages, clubs).subquery()
    query = query.join(QuotaProfile, col(QuotaProfile.id) == col(Club.quota_profile_id)).outerjoin(
        counts, counts.c.club_id == col(Club.id)
    )
    return query, CountColumns(counts, ages)


def _members_of(*conditions: ColumnElement[bool]) -> ColumnElement[bool]:
    return col(Member.club_id).in_(select(col(Club.id)).where(*conditions))


def compliance_join(
    query: AnySelect,
    session: Session,
    on: date,
    compliant: bool,
    *conditions: ColumnElement[bool],
) -> AnySelect:
    """Narrows a query over `Club` (filtered by `conditions`) to the clubs that meet, or
    fail, their profile on `on`."""
    query, counts = _with_counts(query, session, on, _members_of(*conditions))
    condition = compliant_condition(counts)
    return query.where(condition if compliant else ~condition)


def club_composition(
    session: Session, club: Club, on: date, language: Language = ENGLISH
) -> Composition:
    query, counts = _with_counts(select(col(Club.id)), session, on, col(Member.club_id) == club.id)
    row = session.execute(
        query.add_columns(*counts.labelled()).where(col(Club.id) == club.id)
    ).one()
    club_counts = counts_from_row(row)
    profile = session.get_one(QuotaProfile, club.quota_profile_id)
    results = evaluate(profile, club_counts, language)
    return Composition(
        club_id=club.id,
        on=on,
        quota_profile=profile.code,
        counts=club_counts,
        shares=shares(club_counts),
        compliant=all(r.passed for r in results),
        rules=results,
        failures=[r.reason for r in results if not r.passed],
    )


def _area(principal: Principal, province: str | None) -> list[ColumnElement[bool]]:
    """The active clubs of the caller's area, narrowed to one province if asked."""
    if province and principal.role is Role.OFFICER and province not in principal.provinces:
        raise NotFound(f"No province {province} in your area.")
    conditions = [club_filter(principal), col(Club.status) == ClubStatus.ACTIVE.value]
    if province:
        conditions.append(col(Club.province_code) == province)
    return conditions


@router.get(
    "/composition",
    response_model=CompositionSummary,
    dependencies=supervisors,
    summary="Composition of the active clubs of a province, or of the country",
)
def composition_summary(
    session: SessionDep,
    principal: CurrentPrincipal,
    on: OnDate = None,
    province: ProvinceFilter = None,
) -> CompositionSummary:
    on = on or clock.today()
    rows = _summary_rows(session, on, _area(principal, province))
    summary = _summary(on, province, rows)
    if province is None:
        summary.by_province = [_summary(on, row.province_code, [row]) for row in rows]
    return summary


@router.get(
    "/non-compliant",
    response_model=Page[NonCompliantClub],
    dependencies=supervisors,
    summary="Active clubs that fail their quota profile, with the reasons",
)
def non_compliant(
    session: SessionDep,
    principal: CurrentPrincipal,
    page: PageDep,
    on: OnDate = None,
    province: ProvinceFilter = None,
    language: RequestLanguage = ENGLISH,
) -> Page[NonCompliantClub]:
    on = on or clock.today()
    conditions = _area(principal, province)
    query, counts = _with_counts(select(Club, QuotaProfile), session, on, _members_of(*conditions))
    query = query.where(*conditions, ~compliant_condition(counts))
    keys = [
        SortKey.of(col(Club.province_code)),
        SortKey.of(col(Club.code)),
        SortKey.of(col(Club.id)),
    ]
    later = query
    if page.cursor is not None:
        later = query.where(cursor.after(keys, cursor.decode(keys, page.cursor)[0]))
    # One statement: the count of the rows from here rides along on every row; a first page
    # so has the total without a second full count.
    rows = session.execute(
        later.add_columns(*counts.labelled(), func.count().over().label("total"))
        .order_by(*(key.order() for key in keys))
        .offset(page.offset)
        .limit(page.limit)
    ).all()
    if rows and page.cursor is None:
        total = rows[0].total
    else:
        total = _count(session, query) if page.offset or page.cursor else 0
    next_cursor = None
    if rows and rows[0].total > page.offset + len(rows):
        last = rows[-1][0]
        next_cursor = cursor.encode(keys, (last.province_code, last.code, last.id))
    items = [_non_compliant(row, language) for row in rows]
    return Paged(items, total, page, next_cursor).page(items)


@router.get(
    "/{club_id}/composition",
    response_model=Composition,
    dependencies=[Depends(require_roles(*CLUB_READERS))],
    summary="Counts and shares of a club's members on a date, each rule pass or fail",
)
def read_composition(
    club: VisibleClub, session: SessionDep, on: OnDate = None, language: RequestLanguage = ENGLISH
) -> Composition:
    return club_composition(session, club, on or clock.today(), language)


def _count(session: Session, query: Select[*tuple[Any, ...]]) -> int:
    return session.exec(select(func.count()).select_from(query.subquery())).one()


def _non_compliant(row: Row[*tuple[Any, ...]], language: Language) -> NonCompliantClub:
    club, profile = row[0], row[1]
    club_counts = counts_from_row(row)
    failures = [r.reason for r in evaluate(profile, club_counts, language) if not r.passed]
    return NonCompliantClub(
        club_id=club.id,
        code=club.code,
        name=club.name,
        province_code=club.province_code,
        commune_code=club.commune_code,
        counts=club_counts,
        failures=failures,
    )


def _summary_rows(
    session: Session, on: date, conditions: list[ColumnElement[bool]]
) -> list[Row[*tuple[Any, ...]]]:
    provinces, counts = _with_counts(
        select(col(Club.province_code)), session, on, _members_of(*conditions)
    )
    compliant = case((compliant_condition(counts), 1), else_=0)
    query = (
        provinces.add_columns(
            func.count(col(Club.id)).label("clubs"),
            func.sum(compliant).label("clubs_compliant"),
            *[func.sum(getattr(counts, name)).label(name) for name in COUNT_NAMES],
        )
        .where(*conditions)
        .group_by(col(Club.province_code))
        .order_by(col(Club.province_code))
    )
    return list(session.execute(query).all())


def _summary(
    on: date, province: str | None, rows: Sequence[Row[*tuple[Any, ...]]]
) -> CompositionSummary:
    clubs = sum(int(row.clubs) for row in rows)
    compliant = sum(int(row.clubs_compliant or 0) for row in rows)
    counts = Counts(
        **{name: sum(int(getattr(row, name) or 0) for row in rows) for name in COUNT_NAMES}
    )
    return CompositionSummary(
        on=on,
        province_code=province,
        clubs=clubs,
        clubs_compliant=compliant,
        clubs_compliant_pct=share(compliant, clubs),
        counts=counts,
        shares=shares(counts),
    )
