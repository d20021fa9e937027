"""Support and money indicators of an area and period, for the targets report.

Each function counts in the funding database alone, over an `Area` (the nation when nothing
is named) and a period from `start` to `end`, both included, in Vietnam's calendar. Clubs are
placed where they were when the event or the allocation was recorded.
"""

from dataclasses import dataclass, fields
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, distinct, func
from sqlmodel import Session, col, select

from services.funding.flows.models import Allocation, Receipt
from services.funding.work.models import PlanEventClub, Spending
from services.funding.work.schemas import EventKind


@dataclass(frozen=True)
class Area:
    """Today's province or commune, or a province or district as it was before the 2025
    merger (for a plan written before it); none named: the nation."""

    province_code: str | None = None
    commune_code: str | None = None
    former_province_code: str | None = None
    former_district_code: str | None = None

    def of(self, model: Any) -> list[ColumnElement[bool]]:
        """The rows of `model` in the area, by the columns of the same names it has."""
        named = {item.name: getattr(self, item.name) for item in fields(self)}
        return [col(getattr(model, name)) == code for name, code in named.items() if code]


def _clubs_in(session: Session, kind: EventKind, area: Area, start: date, end: date) -> int:
    started_on = col(PlanEventClub.started_on)
    count = session.exec(
        select(func.count(distinct(col(PlanEventClub.club_id)))).where(
            col(PlanEventClub.kind) == kind.value,
            started_on >= start,
            started_on <= end,
            *area.of(PlanEventClub),
        )
    ).one()
    return int(count)


def clubs_trained(session: Session, area: Area, start: date, end: date) -> int:
    """Distinct clubs whose boards took part in a training class that started in the period
    (in a former area: the clubs the clubs service could place there)."""
    return _clubs_in(session, EventKind.TRAINING_CLASS, area, start, end)


def clubs_monitored(session: Session, area: Area, start: date, end: date) -> int:
    """Distinct clubs visited for monitoring or technical support in the period."""
    return _clubs_in(session, EventKind.MONITORING_VISIT, area, start, end)


def _sum(session: Session, amount: Any, conditions: list[ColumnElement[bool]]) -> int:
    return int(session.exec(select(func.coalesce(func.sum(amount), 0)).where(*conditions)).one())


def allocated(session: Session, area: Area, start: date, end: date) -> int:
    """Allocations to clubs' funds in the period, in đồng, by the clubs' places then (today's
    province or commune)."""
    allocated_on = col(Allocation.allocated_on)
    return _sum(
        session,
        col(Allocation.amount),
        [allocated_on >= start, allocated_on <= end, *area.of(Allocation)],
    )


def spent(session: Session, area: Area, start: date, end: date) -> int:
    """Spending on plan lines (withdrawn entries aside) plus allocations to clubs' funds, in
    the period, in đồng. A commune's is what its clubs were allocated: spending on a plan's
    lines is the province's, not any one commune's."""
    to_clubs = allocated(session, area, start, end)
    if area.commune_code is not None:
        return to_clubs
    spent_on = col(Spending.spent_on)
    spending = _sum(
        session,
        col(Spending.amount),
        [
            col(Spending.withdrawn_at).is_(None),
            spent_on >= start,
            spent_on <= end,
            *area.of(Spending),
        ],
    )
    return to_clubs + spending


def raised(session: Session, area: Area, start: date, end: date) -> int:
    """Money received from funders for plans (of today's province) in the period, in đồng."""
    received_on = col(Receipt.received_on)
    return _sum(
        session,
        col(Receipt.amount),
        [received_on >= start, received_on <= end, *area.of(Receipt)],
    )
