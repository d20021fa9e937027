"""Planned against actual: what each line and source expected, and what was committed,
received, allocated and spent against it up to a date.

Spent is the whole plan's actual (for the year-end settlement, quyết toán): the spending on its
lines (training, launches, monitoring, conferences) plus the allocations to clubs' funds.

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
from common.scope import Kind, Place, condition
from services.funding.flows.models import Allocation, Commitment, Receipt
from services.funding.plans.models import Plan, PlanLine, PlanLineAmount, PlanSeries
from services.funding.plans.schemas import AreaExecution, Figures, LineExecution, PlanExecution
from services.funding.reference import service as reference
from services.funding.rules import Activity, PlanStatus, ReferenceKind, percent
from services.funding.scope import flow_filter
from services.funding.work.models import Spending

FlowModel = type[Commitment] | type[Receipt] | type[Allocation]
FLOWS: tuple[tuple[str, FlowModel, Mapped[date]], ...] = (
    ("committed", Commitment, col(Commitment.committed_on)),
    ("received", Receipt, col(Receipt.received_on)),
    ("allocated", Allocation, col(Allocation.allocated_on)),
)
Key = tuple[int, int, str]
"""(series id, line number, source)"""


@dataclass
class Sums:
    planned: int = 0
    committed: int = 0
    received: int = 0
    allocated: int = 0
    spending: int = 0
    """On the line itself, not given to clubs."""

    def add(self, other: "Sums") -> None:
        self.planned += other.planned
        self.committed += other.committed
        self.received += other.received
        self.allocated += other.allocated
        self.spending += other.spending

    def figures(self) -> Figures:
        spent = self.spending + self.allocated
        return Figures(
            planned=self.planned,
            committed=self.committed,
            received=self.received,
            allocated=self.allocated,
            spent=spent,
            received_pct=percent(self.received, self.planned),
            execution_pct=percent(self.allocated, self.planned),
            spent_pct=percent(spent, self.planned),
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
            sums = cells.sums[(series_id, number, source)]
            setattr(sums, name, getattr(sums, name) + int(amount))


def _add_spending(
    session: Session, cells: Cells, principal: Principal, series_ids: list[int], on: date
) -> None:
    """Spending is the province's, not a funder's: a partner's figures leave it out."""
    if principal.role is Role.PARTNER:
        return
    in_scope = condition(principal, Kind.PLAN, Place(province_code=col(Spending.province_code)))
    rows = session.exec(
        select(
            col(Spending.series_id),
            col(Spending.line_number),
            col(Spending.source),
            func.sum(col(Spending.amount)),
        )
        .where(
            col(Spending.series_id).in_(series_ids),
            col(Spending.spent_on) <= on,
            col(Spending.withdrawn_at).is_(None),
            in_scope,
        )
        .group_by(col(Spending.series_id), col(Spending.line_number), col(Spending.source))
    )
    for series_id, number, source, amount in rows:
        cells.sums[(series_id, number, source)].spending += int(amount)


def _add_planned(
    session: Session, cells: Cells, plan_ids: list[int]
) -> dict[tuple[int, int], tuple[str, str]]:
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
    lines: dict[tuple[int, int], tuple[str, str]] = {}
    for series_id, number, activity, content, source, amount in rows:
        lines[(series_id, number)] = (activity, content)
        if source is not None:
            # A source named with its amount not known yet is planned at 0, yet shown.
            cells.sums[(series_id, number, source)].planned += int(amount or 0)
    return lines


def for_plan(session: Session, principal: Principal, plan: Plan, on: date) -> PlanExecution:
    assert plan.id is not None
    cells = Cells()
    lines = _add_planned(session, cells, [plan.id])
    _add_flows(session, cells, principal, [plan.series_id], on)
    _add_spending(session, cells, principal, [plan.series_id], on)
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
                by_source={key[2]: cells.sums[key].figures() for key in _ordered(session, keys)},
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


def _ordered(session: Session, keys: list[Key]) -> list[Key]:
    """By line, then sources in the order of their reference list."""
    order = reference.order_of(session, ReferenceKind.SOURCES)
    return sorted(keys, key=lambda key: (key[1], order.get(key[2], len(order)), key[2]))


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
    series_ids = [series_id for _, series_id, _ in plans]
    _add_flows(session, cells, principal, series_ids, on)
    _add_spending(session, cells, principal, series_ids, on)
    province_of = {series_id: code for _, series_id, code in plans}
    return AreaExecution(
        on=on,
        year=year,
        programme_code=programme,
        province_code=province,
        plans=len(plans),
        by_activity=_by(cells, lambda key: lines.get(key[:2], (Activity.OTHER.value,))[0]),
        by_source=_by(cells, lambda key: key[2]),
        by_province=_by(cells, lambda key: province_of[key[0]]),
        total=cells.total(list(cells.sums)).figures(),
    )
