"""Planned against actual: what each line and source expected, and what was committed,
received and allocated against it up to a date.

Money is recorded against a version's line but counted by the plan's series and the line's
number, so a revision keeps what was recorded under the version before.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, func
from sqlalchemy import select as core_select
from sqlalchemy.orm import Mapped
from sqlmodel import Session, col, select

from common import clock
from common.auth import Principal, Role
from services.funding.flows.models import Allocation, Commitment, Receipt
from services.funding.plans.models import Plan, PlanLine, PlanLineAmount, PlanSeries
from services.funding.plans.schemas import AreaExecution, Figures, LineExecution, PlanExecution
from services.funding.rules import Activity, PlanStatus, Source, percent
from services.funding.scope import flow_filter

FlowModel = type[Commitment] | type[Receipt] | type[Allocation]
FLOWS: tuple[tuple[str, FlowModel, Mapped[date]], ...] = (
    ("committed", Commitment, col(Commitment.committed_on)),
    ("received", Receipt, col(Receipt.received_on)),
    ("allocated", Allocation, col(Allocation.allocated_on)),
)
Key = tuple[int, int, Source]
"""(series id, line number, source)"""


@dataclass
class Sums:
    planned: int = 0
    committed: int = 0
    received: int = 0
    allocated: int = 0

    def add(self, other: "Sums") -> None:
        self.planned += other.planned
        self.committed += other.committed
        self.received += other.received
        self.allocated += other.allocated

    def figures(self) -> Figures:
        return Figures(
            planned=self.planned,
            committed=self.committed,
            received=self.received,
            allocated=self.allocated,
            received_pct=percent(self.received, self.planned),
            execution_pct=percent(self.allocated, self.planned),
        )


@dataclass
class Cells:
    """Sums per (series, line number, source)."""

    sums: dict[Key, Sums] = field(default_factory=lambda: defaultdict(Sums))

    def total(self, keys: Iterable[Key]) -> Sums:
        total = Sums()
        for key in keys:
            total.add(self.sums[key])
        return total


def _flow_scope(principal: Principal, model: FlowModel) -> ColumnElement[bool]:
    commune = getattr(model, "commune_code", None)
    return flow_filter(principal, col(model.funder_id), col(model.province_code), commune)


def counted(model: FlowModel) -> list[ColumnElement[bool]]:
    """A withdrawn pledge counts nowhere."""
    return [col(Commitment.withdrawn_at).is_(None)] if model is Commitment else []


def _add_flows(
    session: Session, cells: Cells, principal: Principal, series_ids: list[int], on: date
) -> None:
    for name, model, moved_on in FLOWS:
        rows = session.exec(
            select(
                col(model.series_id),
                col(model.line_number),
                col(model.source),
                func.sum(col(model.amount)),
            )
            .where(
                col(model.series_id).in_(series_ids),
                moved_on <= on,
                _flow_scope(principal, model),
                *counted(model),
            )
            .group_by(col(model.series_id), col(model.line_number), col(model.source))
        )
        for series_id, number, source, amount in rows:
            sums = cells.sums[(series_id, number, Source(source))]
            setattr(sums, name, getattr(sums, name) + int(amount))


def _add_planned(
    session: Session, cells: Cells, plan_ids: list[int]
) -> dict[tuple[int, int], tuple[Activity, str]]:
    """Adds the planned amounts; returns each (series, number)'s line facts."""
    # SQLAlchemy's own `select`: SQLModel's is typed for at most four columns.
    rows = session.execute(
        core_select(
            col(Plan.series_id),
            col(PlanLine.number),
            col(PlanLine.activity),
            col(PlanLine.content),
            col(PlanLineAmount.source),
            col(PlanLineAmount.amount),
        )
        .join(PlanLine, col(PlanLine.plan_id) == col(Plan.id))
        .outerjoin(PlanLineAmount, col(PlanLineAmount.line_id) == col(PlanLine.id))
        .where(col(Plan.id).in_(plan_ids))
    )
    lines: dict[tuple[int, int], tuple[Activity, str]] = {}
    for series_id, number, activity, content, source, amount in rows:
        lines[(series_id, number)] = (Activity(activity), content)
        if source is not None:
            cells.sums[(series_id, number, Source(source))].planned += int(amount)
    return lines


def for_plan(session: Session, principal: Principal, plan: Plan, on: date) -> PlanExecution:
    assert plan.id is not None
    cells = Cells()
    lines = _add_planned(session, cells, [plan.id])
    _add_flows(session, cells, principal, [plan.series_id], on)
    numbers = sorted({number for _, number, _ in cells.sums} | {n for _, n in lines})
    answer_lines = []
    for number in numbers:
        keys = [key for key in cells.sums if key[1] == number]
        activity, content = lines.get((plan.series_id, number), (None, None))
        answer_lines.append(
            LineExecution(
                number=number,
                activity=activity,
                content=content,
                by_source={key[2]: cells.sums[key].figures() for key in _ordered(keys)},
                **cells.total(keys).figures().model_dump(),
            )
        )
    return PlanExecution(
        plan_id=plan.id,
        version=plan.version,
        on=on,
        funder_id=principal.funder_id if principal.role is Role.PARTNER else None,
        lines=answer_lines,
        by_source=_by(cells, lambda key: key[2]),
        total=cells.total(list(cells.sums)).figures(),
    )


def _ordered(keys: list[Key]) -> list[Key]:
    order = list(Source)
    return sorted(keys, key=lambda key: (key[1], order.index(key[2])))


def _by(cells: Cells, group: Any) -> dict[Any, Figures]:
    grouped: dict[Any, Sums] = defaultdict(Sums)
    for key, sums in cells.sums.items():
        grouped[group(key)].add(sums)
    return {name: sums.figures() for name, sums in sorted(grouped.items())}


def current_plans(
    session: Session,
    principal: Principal,
    province: str | None,
    programme: str | None,
    year: int | None,
) -> list[tuple[int, int, str]]:
    """(plan id, series id, province) of the newest approved version of each plan in scope."""
    newest = (
        select(col(Plan.series_id), func.max(col(Plan.version)).label("version"))
        .where(col(Plan.status) == PlanStatus.APPROVED.value)
        .group_by(col(Plan.series_id))
        .subquery()
    )
    query = (
        select(col(Plan.id), col(Plan.series_id), col(PlanSeries.province_code))
        .join(
            newest,
            (col(Plan.series_id) == newest.c.series_id) & (col(Plan.version) == newest.c.version),
        )
        .join(PlanSeries, col(PlanSeries.id) == col(Plan.series_id))
    )
    if principal.role is Role.OFFICER:
        query = query.where(col(PlanSeries.province_code).in_(principal.provinces))
    if province:
        query = query.where(col(PlanSeries.province_code) == province)
    if programme:
        query = query.where(col(PlanSeries.programme_code) == programme)
    if year is not None:
        query = query.where(col(PlanSeries.start_year) <= year, col(PlanSeries.end_year) >= year)
    return [
        (plan_id, series_id, code)
        for plan_id, series_id, code in session.exec(query)
        if plan_id is not None
    ]


def for_area(
    session: Session,
    principal: Principal,
    province: str | None,
    programme: str | None,
    year: int | None,
) -> AreaExecution:
    plans = current_plans(session, principal, province, programme, year)
    cells = Cells()
    lines = _add_planned(session, cells, [plan_id for plan_id, _, _ in plans])
    on = clock.today()
    _add_flows(session, cells, principal, [series_id for _, series_id, _ in plans], on)
    province_of = {series_id: code for _, series_id, code in plans}
    return AreaExecution(
        on=on,
        year=year,
        programme_code=programme,
        province_code=province,
        plans=len(plans),
        by_activity=_by(cells, lambda key: lines.get(key[:2], (Activity.OTHER,))[0]),
        by_source=_by(cells, lambda key: key[2]),
        by_province=_by(cells, lambda key: province_of[key[0]]),
        total=cells.total(list(cells.sums)).figures(),
    )
