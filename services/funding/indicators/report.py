"""The programme indicators: what this service knows (programmes, plans, money flows) and how
every figure is set beside its target.

Verdicts compare whole numbers (`part × 100 ≥ target × whole`), so rounding never flips one.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from common.auth import Principal, Role
from services.funding.catalogue.models import Programme
from services.funding.flows.models import Allocation
from services.funding.indicators.schemas import Indicator, Section, TargetUnit
from services.funding.plans import execution
from services.funding.plans.models import Plan
from services.funding.plans.schemas import Figures
from services.funding.rules import ReferenceKind, in_seed_order, percent
from services.funding.scope import flow_filter

PLAN = "plan"
CLUBS, MEMBERS, ACTIVITIES, MONEY = "clubs", "members", "activities", "money"
FUNDING_FIGURES = ("planned", "committed", "received", "allocated")


@dataclass(frozen=True)
class Targets:
    """The programme's share targets and the province plans' counts (None: no target)."""

    programme_code: str | None = None
    running_all_activities_pct: int | None = None
    able_to_borrow_pct: int | None = None
    both_funds_pct: int | None = None
    plans: int = 0
    clubs_to_found: int | None = None
    clubs_in_all: int | None = None
    """Clubs to found and to maintain: what the active clubs are compared with."""
    members: int | None = None
    older_members: int | None = None


def programme_in_force(session: Session, year: int) -> Programme | None:
    """The phase covering `year`; where two meet (2025), the one ending first is in force."""
    return session.exec(
        select(Programme)
        .where(Programme.start_year <= year, Programme.end_year >= year)
        .order_by(col(Programme.end_year))
    ).first()


def funder_club_ids(
    session: Session, principal: Principal, funder_id: int, province: str | None, end: date
) -> list[int]:
    """The clubs that funder allocated money to by the end of the period, in the caller's area."""
    conditions = [
        col(Allocation.funder_id) == funder_id,
        col(Allocation.allocated_on) <= end,
        flow_filter(
            principal,
            col(Allocation.funder_id),
            col(Allocation.province_code),
            col(Allocation.commune_code),
        ),
    ]
    if province is not None:
        conditions.append(col(Allocation.province_code) == province)
    club_id = col(Allocation.club_id)
    return list(session.exec(select(club_id).where(*conditions).distinct().order_by(club_id)).all())


def targets(
    session: Session,
    principal: Principal,
    programme: Programme | None,
    province: str | None,
    year: int,
    with_plans: bool,
) -> Targets:
    """The programme's targets, and (for an area, not a funder's clubs) the sum of the targets
    of the current approved plans in the caller's area covering `year`."""
    plan_ids = (
        [
            plan_id
            for plan_id, _, _ in execution.current_plans(session, principal, province, None, year)
        ]
        if with_plans
        else []
    )
    sums = session.exec(
        select(
            func.sum(Plan.clubs_to_found),
            func.sum(Plan.members),
            func.sum(Plan.older_members),
            func.sum(Plan.clubs_to_maintain),
        ).where(col(Plan.id).in_(plan_ids))
    ).one()
    # A count no plan states sums to NULL: no target, never 0.
    plan_targets = [None if value is None or not plan_ids else int(value) for value in sums]
    return Targets(
        programme_code=programme.code if programme else None,
        running_all_activities_pct=programme.clubs_running_all_activities_pct
        if programme
        else None,
        able_to_borrow_pct=programme.members_able_to_borrow_pct if programme else None,
        both_funds_pct=programme.clubs_with_both_funds_pct if programme else None,
        plans=len(plan_ids),
        clubs_to_found=plan_targets[0],
        clubs_in_all=None
        if plan_targets[0] is None and plan_targets[3] is None
        else (plan_targets[0] or 0) + (plan_targets[3] or 0),
        members=plan_targets[1],
        older_members=plan_targets[2],
    )


def funding_by_source(
    session: Session, view: Principal, provinces: list[str | None], period: tuple[date, date]
) -> dict[str, Figures]:
    """By source: planned by the current plans covering the period's last year, and the money
    committed, received and allocated that is dated in the period, under every plan, as `view`
    may see it (a funder's view counts only that funder's money)."""
    totals: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(FUNDING_FIGURES, 0))
    for province in provinces:
        area = execution.for_area(session, view, province, None, period[1].year)
        for source, figures in area.by_source.items():
            totals[source]["planned"] += figures.planned
        for name, source, amount in _moved_in(session, view, province, period):
            totals[source][name] += amount
    return {
        source: Figures(
            **totals[source],
            received_pct=percent(totals[source]["received"], totals[source]["planned"]),
            execution_pct=percent(totals[source]["allocated"], totals[source]["planned"]),
        )
        for source in in_seed_order(totals, ReferenceKind.SOURCES)
    }


def _moved_in(
    session: Session, view: Principal, province: str | None, period: tuple[date, date]
) -> list[tuple[str, str, int]]:
    """(figure, source, đồng) of the money flows dated in the period, whatever their plan."""
    found = []
    for name, model, moved_on in execution.FLOWS:
        commune = getattr(model, "commune_code", None)
        conditions = [
            moved_on >= period[0],
            moved_on <= period[1],
            flow_filter(view, col(model.funder_id), col(model.province_code), commune),
            *execution.counted(model),
        ]
        if province is not None:
            conditions.append(col(model.province_code) == province)
        rows = session.exec(
            select(col(model.source), func.sum(col(model.amount)))
            .where(*conditions)
            .group_by(col(model.source))
        )
        found += [(name, source, int(amount)) for source, amount in rows]
    return found


def funder_view(principal: Principal, funder_id: int) -> Principal:
    """The caller seeing money as that funder does: plans whole, money only the funder's."""
    if principal.role is Role.PARTNER:
        return principal
    return Principal(subject=principal.subject, role=Role.PARTNER, funder_id=funder_id)


@dataclass
class Rows:
    """The report's rows, in order."""

    items: list[Indicator] = field(default_factory=list)

    def add(
        self,
        section: Section,
        name: str,
        value: int | None,
        whole: int | None = None,
        target: int | None = None,
        unit: TargetUnit | None = None,
        source: str | None = None,
    ) -> None:
        share = percent(value, whole) if value is not None and whole else None
        self.items.append(
            Indicator(
                section=section,
                name=name,
                value=value,
                share_pct=share,
                target=target,
                target_unit=unit if target is not None else None,
                target_source=source if target is not None else None,
                met=_met(value, whole, target, unit),
            )
        )


def _met(value: int | None, whole: int | None, target: int | None, unit: Any) -> bool | None:
    if value is None or target is None:
        return None
    if unit is TargetUnit.COUNT:
        return value >= target
    if not whole:
        return None
    return value * 100 >= target * whole


def club_rows(rows: Rows, clubs: dict[str, Any] | None, goals: Targets) -> None:
    """The clubs, members and activities sections (from the clubs service's figures)."""
    programme = f"programme {goals.programme_code}"
    counts = (clubs or {}).get("clubs", {})
    members = (clubs or {}).get("members", {})
    active, total = counts.get("active"), members.get("members")
    rows.add(Section.CLUBS, "total", counts.get("total"))
    rows.add(Section.CLUBS, "active", active, None, goals.clubs_in_all, TargetUnit.COUNT, PLAN)
    founded = counts.get("founded_in_period")
    rows.add(
        Section.CLUBS,
        "founded_in_period",
        founded,
        None,
        goals.clubs_to_found,
        TargetUnit.COUNT,
        PLAN,
    )
    rows.add(Section.CLUBS, "maintained", counts.get("maintained"))
    rows.add(Section.CLUBS, "dissolved_in_period", counts.get("dissolved_in_period"))
    rows.add(Section.MEMBERS, "total", total, None, goals.members, TargetUnit.COUNT, PLAN)
    rows.add(
        Section.MEMBERS,
        "older",
        members.get("older"),
        total,
        goals.older_members,
        TargetUnit.COUNT,
        PLAN,
    )
    rows.add(Section.MEMBERS, "women", members.get("women"), total)
    rows.add(Section.MEMBERS, "poor_near_poor_disadvantaged", members.get("priority"), total)
    rows.add(Section.MEMBERS, "clubs_meeting_profile", (clubs or {}).get("clubs_compliant"), active)
    rows.add(
        Section.ACTIVITIES,
        "clubs_running_all_eight",
        (clubs or {}).get("clubs_running_all_eight"),
        active,
        goals.running_all_activities_pct,
        TargetUnit.PERCENT,
        programme,
    )
    rows.add(Section.ACTIVITIES, "meetings_held", (clubs or {}).get("meetings_held"))
    rows.add(Section.ACTIVITIES, "home_care_volunteers", members.get("home_care_volunteers"))


def money_rows(
    rows: Rows,
    money: dict[str, Any] | None,
    clubs: dict[str, Any] | None,
    goals: Targets,
    amounts: bool = True,
) -> None:
    """The money section; its shares divide by the clubs service's active clubs and members.
    Without `amounts`, only counts and shares (what a partner gets)."""
    programme = f"programme {goals.programme_code}"
    money = money or {}
    active_clubs = (clubs or {}).get("clubs", {}).get("active")
    active_members = (clubs or {}).get("members", {}).get("members")
    rows.add(
        Section.MONEY,
        "clubs_with_both_funds",
        money.get("clubs_with_both_funds"),
        active_clubs,
        goals.both_funds_pct,
        TargetUnit.PERCENT,
        programme,
    )
    if amounts:
        rows.add(Section.MONEY, "fund_capital", money.get("fund_capital"))
        outstanding = money.get("outstanding_principal")
        rows.add(Section.MONEY, "member_loans_outstanding", outstanding)
        rows.add(Section.MONEY, "par30", money.get("par30_principal"), outstanding)
    rows.add(
        Section.MONEY,
        "members_with_loan",
        money.get("members_with_loan"),
        active_members,
        goals.able_to_borrow_pct,
        TargetUnit.PERCENT,
        programme,
    )


def funding_rows(rows: Rows, by_source: dict[str, Figures]) -> None:
    for source, figures in by_source.items():
        rows.add(Section.FUNDING, f"planned.{source}", figures.planned)
        rows.add(Section.FUNDING, f"received.{source}", figures.received, figures.planned)
        rows.add(Section.FUNDING, f"allocated.{source}", figures.allocated, figures.planned)
