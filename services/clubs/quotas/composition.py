"""Composition of clubs on a date: one club, an area's summary, the clubs that fail."""

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy import Select, case, func
from sqlmodel import Session, select

from common.auth import CurrentPrincipal, Principal, Role, require_roles
from common.db import SessionDep
from common.problems import NotFound
from common.schemas import Page, PageDep
from services.clubs.domain import ClubStatus
from services.clubs.models import Club, Member, QuotaProfile
from services.clubs.quotas.rules import (
    COUNT_NAMES,
    compliant_condition,
    counts_by_club,
    counts_from_row,
    evaluate,
    share,
    shares,
    zero_counts,
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
OnDate = Annotated[date | None, Query(description="The date to judge on; today by default.")]
supervisors = [Depends(require_roles(Role.ADMIN, Role.OFFICER))]


def compliance_join(query: Select, on: date, compliant: bool) -> Select:
    """Narrows a query over `Club` to the clubs that meet (or fail) their profile on `on`."""
    counts = counts_by_club(on).subquery()
    condition = compliant_condition(counts)
    return (
        query.join(QuotaProfile, QuotaProfile.id == Club.quota_profile_id)
        .outerjoin(counts, counts.c.club_id == Club.id)
        .where(condition if compliant else ~condition)
    )


def club_composition(session: Session, club: Club, on: date) -> Composition:
    row = session.exec(counts_by_club(on).where(Member.club_id == club.id)).first()
    counts = counts_from_row(row) if row else zero_counts()
    profile = session.get(QuotaProfile, club.quota_profile_id)
    results = evaluate(profile, counts)
    return Composition(
        club_id=club.id,
        on=on,
        quota_profile=profile.code,
        counts=counts,
        shares=shares(counts),
        compliant=all(r.passed for r in results),
        rules=results,
        failures=[r.reason for r in results if not r.passed],
    )


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
    province: Annotated[ProvinceCode | None, Query()] = None,
) -> CompositionSummary:
    on = on or date.today()
    _check_province(principal, province)
    rows = _summary_rows(session, principal, on, province)
    by_province = [_summary(on, row.province_code, [row]) for row in rows]
    summary = _summary(on, province, rows)
    if province is None:
        summary.by_province = by_province
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
    province: Annotated[ProvinceCode | None, Query()] = None,
) -> Page[NonCompliantClub]:
    on = on or date.today()
    _check_province(principal, province)
    counts = counts_by_club(on).subquery()
    query = (
        select(Club, QuotaProfile, *[counts.c[name] for name in COUNT_NAMES])
        .join(QuotaProfile, QuotaProfile.id == Club.quota_profile_id)
        .outerjoin(counts, counts.c.club_id == Club.id)
        .where(
            club_filter(principal),
            Club.status == ClubStatus.ACTIVE.value,
            ~compliant_condition(counts),
        )
    )
    if province:
        query = query.where(Club.province_code == province)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    rows = session.exec(
        query.order_by(Club.province_code, Club.code).offset(page.offset).limit(page.limit)
    ).all()
    items = []
    for club, profile, *values in rows:
        club_counts = Counts(**{n: int(v or 0) for n, v in zip(COUNT_NAMES, values, strict=True)})
        failures = [r.reason for r in evaluate(profile, club_counts) if not r.passed]
        items.append(
            NonCompliantClub(
                club_id=club.id,
                code=club.code,
                name=club.name,
                province_code=club.province_code,
                commune_code=club.commune_code,
                counts=club_counts,
                failures=failures,
            )
        )
    return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get(
    "/{club_id}/composition",
    response_model=Composition,
    dependencies=[Depends(require_roles(*CLUB_READERS))],
    summary="Counts and shares of a club's members on a date, each rule pass or fail",
)
def read_composition(club: VisibleClub, session: SessionDep, on: OnDate = None) -> Composition:
    return club_composition(session, club, on or date.today())


def _check_province(principal: Principal, province: str | None) -> None:
    if province and principal.role is Role.OFFICER and province not in principal.provinces:
        raise NotFound(f"No province {province} in your area.")


def _summary_rows(session: Session, principal: Principal, on: date, province: str | None):
    counts = counts_by_club(on).subquery()
    compliant = case((compliant_condition(counts), 1), else_=0)
    query = (
        select(
            Club.province_code,
            func.count(Club.id).label("clubs"),
            func.sum(compliant).label("clubs_compliant"),
            *[func.coalesce(func.sum(counts.c[name]), 0).label(name) for name in COUNT_NAMES],
        )
        .join(QuotaProfile, QuotaProfile.id == Club.quota_profile_id)
        .outerjoin(counts, counts.c.club_id == Club.id)
        .where(club_filter(principal), Club.status == ClubStatus.ACTIVE.value)
        .group_by(Club.province_code)
        .order_by(Club.province_code)
    )
    if province:
        query = query.where(Club.province_code == province)
    return session.exec(query).all()


def _summary(on: date, province: str | None, rows) -> CompositionSummary:
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
