"""`POST /api/v1/clubs/indicators`: the registry's programme indicators of an area or a set of
clubs for a period, as counts only (never a member's row), in three statements.

The funding service's programme report asks this for the clubs' part of its figures: a
province, the country, or one funder's clubs (`club_ids`).
"""

from datetime import date, datetime, timedelta
from typing import Annotated, Self

from fastapi import APIRouter, Depends, Request
from pydantic import Field, model_validator
from sqlalchemy import ColumnElement, SQLColumnExpression, and_, bindparam, case, func, or_, select
from sqlmodel import Session, col

from common import clock, places
from common.auth import CurrentPrincipal, Principal, Role, require_roles
from common.db import ReportSessionDep, report_timeout, tune_for_report
from common.problem_codes import Code
from common.problems import NotFound, invalid
from common.schemas import Id, InputModel, OutputModel, ReportDate
from services.clubs.domain import ActivityArea, ClubStatus
from services.clubs.models import (
    Activity,
    Club,
    ClubStatusChange,
    Meeting,
    Member,
    QuotaProfile,
)
from services.clubs.quotas.rules import (
    COUNT_NAMES,
    CountColumns,
    compliant_condition,
    counts_by_club,
    older_ages,
)
from services.clubs.quotas.schemas import Counts
from services.clubs.registry.schemas import CommuneCode, ProvinceCode
from services.clubs.scope import club_filter

MAX_CLUB_IDS = 25_000

router = APIRouter(
    prefix="/api/v1/clubs",
    tags=["composition"],
    dependencies=[Depends(require_roles(Role.ADMIN, Role.OFFICER, Role.SERVICE))],
)


class IndicatorsQuery(InputModel):
    province: ProvinceCode | None = Field(default=None, description="One province's clubs.")
    commune: CommuneCode | None = Field(default=None, description="One commune's clubs.")
    former_province: Annotated[str, Field(pattern=r"^\d{2}$")] | None = Field(
        default=None,
        description="The clubs of a province as it was before the 2025 merger (code of then).",
    )
    former_district: Annotated[str, Field(pattern=r"^\d{3}$")] | None = Field(
        default=None,
        description="The clubs of a district as it was before the 2025 merger (code of then): "
        "those whose former district is known (`former_district_code` of a club).",
    )
    club_ids: Annotated[list[Id], Field(max_length=MAX_CLUB_IDS)] | None = Field(
        default=None, description="Only these clubs (e.g. one funder's), at most 25,000."
    )
    period_from: ReportDate = Field(alias="from")
    period_to: ReportDate = Field(alias="to")

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.period_from > self.period_to:
            raise invalid("from", "is after 'to'", code=Code.DATE_OUT_OF_ORDER)
        return self


class ClubCounts(OutputModel):
    total: int = Field(description="Clubs in the registry not founded after the period.")
    active: int = Field(
        description="Clubs active on `period_to`: founded by then, and active then (their "
        "status as it was that day, not today's)."
    )
    founded_in_period: int = Field(description="Founding decision dated in the period.")
    maintained: int = Field(
        description="Founded before the period and active, with no status change since the "
        "period began: active through the whole period."
    )
    dissolved_in_period: int = Field(description="Dissolved by a status change in the period.")
    active_at_start: int = Field(
        description="Founded before the period and not dissolved before it began: the clubs "
        "the period could maintain."
    )


class ClubIndicators(OutputModel):
    period_from: date
    period_to: date
    clubs: ClubCounts
    members: Counts = Field(
        description="Active members on `period_to` of the clubs active that day."
    )
    clubs_compliant: int = Field(description="Clubs active then meeting their quota profile.")
    clubs_running_all_eight: int = Field(
        description="Clubs active on `period_to` with activities in all eight areas in the period."
    )
    meetings_held: int = Field(description="Meetings of the clubs in the period.")
    health_checks: int = Field(description="Health checks given at those meetings.")
    activities_by_area: dict[ActivityArea, int] = Field(
        description="Activities the clubs held in the period, by activity area (every area, "
        "0 for none)."
    )
    former_districts_with_club: int = Field(
        description="Former districts (before the 2025 merger) with at least one active club "
        "founded by `period_to`, by the clubs' own former districts."
    )
    communes_with_club: dict[str, int] = Field(
        description="Today's communes with at least one active club founded by `period_to`, by "
        "the unit's type (`xã`, `phường`, `đặc khu`: every type, 0 for none)."
    )


def _ids_in(column: SQLColumnExpression[int | None], ids: list[int]) -> ColumnElement[bool]:
    # Rendered inline (the ids are validated integers): up to 25,000 of them, used several
    # times in one statement, would pass the databases' limits on bound parameters.
    return column.in_(bindparam("club_ids", ids, expanding=True, literal_execute=True))


def _area(principal: Principal, query: IndicatorsQuery) -> list[ColumnElement[bool]]:
    """The clubs counted: the caller's, narrowed to a province and a list of ids if asked."""
    if (
        query.province
        and principal.role is Role.OFFICER
        and query.province not in principal.provinces
    ):
        raise NotFound(f"No province {query.province} in your area.")
    conditions = [club_filter(principal)]
    if query.province:
        conditions.append(col(Club.province_code) == query.province)
    if query.commune:
        conditions.append(col(Club.commune_code) == query.commune)
    if query.former_province:
        conditions.append(col(Club.former_province_code) == query.former_province)
    if query.former_district:
        conditions.append(col(Club.former_district_code) == query.former_district)
    if query.club_ids is not None:
        conditions.append(_ids_in(col(Club.id), query.club_ids))
    return conditions


def _period_start(day: date) -> datetime:
    """The moment a Vietnamese day begins: a status changed at 06:00 in Hà Nội belongs to
    that day, not to the UTC day before."""
    return clock.start_of(day)


def status_on(day: date) -> ColumnElement[str]:
    """A club's status at the end of `day`: what its first later change changed it from, or
    its status now when it has not changed since."""
    first_later = (
        select(col(ClubStatusChange.status_before))
        .where(
            col(ClubStatusChange.club_id) == col(Club.id),
            col(ClubStatusChange.changed_at) >= _period_start(day + timedelta(days=1)),
        )
        .order_by(col(ClubStatusChange.changed_at), col(ClubStatusChange.id))
        .limit(1)
        .scalar_subquery()
    )
    return func.coalesce(first_later, col(Club.status))


def active_on(day: date) -> ColumnElement[bool]:
    return status_on(day) == ClubStatus.ACTIVE.value


def _changed(start: date, end: date, status: ClubStatus | None = None) -> ColumnElement[bool]:
    """Whether the club's status changed in the period (to `status`, if given)."""
    conditions = [
        col(ClubStatusChange.club_id) == col(Club.id),
        col(ClubStatusChange.changed_at) >= _period_start(start),
        col(ClubStatusChange.changed_at) < _period_start(end + timedelta(days=1)),
    ]
    if status is not None:
        conditions.append(col(ClubStatusChange.status_after) == status.value)
    return select(col(ClubStatusChange.id)).where(*conditions).exists()


def _club_counts(
    session: Session, area: list[ColumnElement[bool]], start: date, end: date
) -> ClubCounts:
    founded = col(Club.founding_decision_date)
    before_start = start - timedelta(days=1)

    def count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
        return func.count(case((condition, 1)))

    row = session.execute(
        select(
            func.count(),
            count_if(active_on(end)),
            count_if(founded.between(start, end)),
            count_if(and_(founded < start, active_on(end), ~_changed(start, end))),
            count_if(_changed(start, end, ClubStatus.DISSOLVED)),
            count_if(and_(founded < start, status_on(before_start) != ClubStatus.DISSOLVED.value)),
        ).where(*area, or_(founded.is_(None), founded <= end))
    ).one()
    return ClubCounts(
        total=row[0],
        active=row[1],
        founded_in_period=row[2],
        maintained=row[3],
        dissolved_in_period=row[4],
        active_at_start=row[5],
    )


def _member_counts(
    session: Session, active_area: list[ColumnElement[bool]], on: date
) -> tuple[Counts, int]:
    """Members of the active clubs on `on`, and how many of those clubs meet their profile:
    the composition's own per-club counts and verdict, summed."""
    ages = older_ages(session)
    members_of_area = col(Member.club_id).in_(select(col(Club.id)).where(*active_area))
    per_club = counts_by_club(on, ages, members_of_area).subquery()
    counts = CountColumns(per_club, ages)
    row = session.execute(
        select(
            func.count(case((compliant_condition(counts), 1))).label("compliant"),
            *[
                func.coalesce(func.sum(getattr(counts, name)), 0).label(name)
                for name in COUNT_NAMES
            ],
        )
        .select_from(Club)
        .join(QuotaProfile, col(QuotaProfile.id) == col(Club.quota_profile_id))
        .outerjoin(per_club, per_club.c.club_id == col(Club.id))
        .where(*active_area)
    ).one()
    return Counts(**{name: int(getattr(row, name)) for name in COUNT_NAMES}), int(row.compliant)


def _activity_counts(
    session: Session,
    area: list[ColumnElement[bool]],
    active_area: list[ColumnElement[bool]],
    start: date,
    end: date,
) -> tuple[int, int, int]:
    """(active clubs with activities in all eight areas in the period, meetings held, health
    checks given at them)."""
    all_eight = (
        select(col(Activity.club_id))
        .where(
            col(Activity.club_id).in_(select(col(Club.id)).where(*active_area)),
            col(Activity.held_on).between(start, end),
        )
        .group_by(col(Activity.club_id))
        .having(func.count(func.distinct(col(Activity.area))) == len(ActivityArea))
        .subquery()
    )
    of_period = [
        col(Meeting.club_id).in_(select(col(Club.id)).where(*area)),
        col(Meeting.held_on).between(start, end),
    ]
    clubs, held, checks = session.execute(
        select(
            select(func.count()).select_from(all_eight).scalar_subquery(),
            select(func.count()).select_from(Meeting).where(*of_period).scalar_subquery(),
            select(func.coalesce(func.sum(col(Meeting.health_checks)), 0))
            .where(*of_period)
            .scalar_subquery(),
        )
    ).one()
    return int(clubs), int(held), int(checks)


def _activities_by_area(
    session: Session, area: list[ColumnElement[bool]], start: date, end: date
) -> dict[ActivityArea, int]:
    rows = session.execute(
        select(col(Activity.area), func.count())
        .where(
            col(Activity.club_id).in_(select(col(Club.id)).where(*area)),
            col(Activity.held_on).between(start, end),
        )
        .group_by(col(Activity.area))
    )
    held = {ActivityArea(name): int(count) for name, count in rows}
    return {kind: held.get(kind, 0) for kind in ActivityArea}


def _former_districts_with_club(
    session: Session, active_area: list[ColumnElement[bool]], end: date
) -> int:
    founded = col(Club.founding_decision_date)
    return int(
        session.execute(
            select(func.count(func.distinct(col(Club.former_district_code)))).where(
                *active_area, or_(founded.is_(None), founded <= end)
            )
        ).scalar_one()
    )


def _communes_with_club(
    session: Session, active_area: list[ColumnElement[bool]], end: date
) -> dict[str, int]:
    founded = col(Club.founding_decision_date)
    codes = session.execute(
        select(col(Club.commune_code))
        .where(*active_area, or_(founded.is_(None), founded <= end))
        .distinct()
    ).scalars()
    units = places.communes()
    found = dict.fromkeys(sorted({unit.division_type for unit in units.values()}), 0)
    for code in codes:
        if code in units:
            found[units[code].division_type] += 1
    return found


def indicators(session: Session, principal: Principal, query: IndicatorsQuery) -> ClubIndicators:
    start, end = query.period_from, query.period_to
    area = _area(principal, query)
    active_area = [*area, active_on(end)]
    members, compliant = _member_counts(session, active_area, end)
    all_eight, meetings, checks = _activity_counts(session, area, active_area, start, end)
    return ClubIndicators(
        period_from=start,
        period_to=end,
        clubs=_club_counts(session, area, start, end),
        members=members,
        clubs_compliant=compliant,
        clubs_running_all_eight=all_eight,
        meetings_held=meetings,
        health_checks=checks,
        activities_by_area=_activities_by_area(session, area, start, end),
        communes_with_club=_communes_with_club(session, active_area, end),
        former_districts_with_club=_former_districts_with_club(session, active_area, end),
    )


@router.post(
    "/indicators",
    response_model=ClubIndicators,
    summary="Programme indicators of the registry for an area or a set of clubs (counts only)",
)
def read_indicators(
    query: IndicatorsQuery, session: ReportSessionDep, principal: CurrentPrincipal, request: Request
) -> ClubIndicators:
    # No JIT: compiling the national club counts takes far longer than running them.
    tune_for_report(session, report_timeout(request))
    return indicators(session, principal, query)
