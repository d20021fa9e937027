"""Plans against the database: versions, budget lines and their public form. Nothing commits."""

from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import delete, func, update
from sqlmodel import Session, col, select

from common.auth import Principal
from common.clock import utcnow
from common.db import id_of
from common.problem_codes import Code
from common.problems import Conflict, NotFound
from services.funding import events
from services.funding.models import outbox
from services.funding.plans.models import Plan, PlanLine, PlanLineAmount, PlanSeries
from services.funding.plans.schemas import (
    LineIn,
    LinePublic,
    PlanContent,
    PlanCreate,
    PlanPublic,
    PlanSummary,
    Targets,
)
from services.funding.rules import PlanStatus, Source
from services.funding.scope import sees_plans_of
from services.funding.targets import service as targets


def series_of(session: Session, plan: Plan) -> PlanSeries:
    series = session.get(PlanSeries, plan.series_id)
    assert series is not None
    return series


def visible_plan(session: Session, principal: Principal, plan_id: int) -> tuple[Plan, PlanSeries]:
    """The plan if the caller may read it: partners read approved plans, officers their
    provinces' plans; anything else is 404."""
    plan = session.get(Plan, plan_id)
    if plan is not None:
        series = series_of(session, plan)
        if may_read(principal, series, plan):
            return plan, series
    raise NotFound(f"No plan {plan_id}.")


def may_read(principal: Principal, series: PlanSeries, plan: Plan) -> bool:
    if principal.role.value == "partner":
        return plan.status == PlanStatus.APPROVED.value
    return sees_plans_of(principal, series.province_code)


def _write_lines(session: Session, plan: Plan, lines: Iterable[LineIn]) -> None:
    for line in lines:
        assert line.number is not None
        row = PlanLine(
            plan_id=id_of(plan),
            number=line.number,
            activity=line.activity.value,
            content=line.content,
        )
        session.add(row)
        session.flush()
        session.add_all(
            PlanLineAmount(line_id=id_of(row), source=source.value, amount=amount)
            for source, amount in line.amounts.items()
            if amount
        )
    session.flush()


def _set_content(plan: Plan, content: PlanContent) -> None:
    plan.title = content.title
    plan.notes = content.notes
    for name, value in content.targets.model_dump().items():
        setattr(plan, name, value)
    plan.updated_at = utcnow()


def create(session: Session, principal: Principal, payload: PlanCreate) -> Plan:
    """A new series and its first draft; 409 if the province already has that plan."""
    assert payload.end_year is not None
    existing = session.exec(
        select(PlanSeries).where(
            PlanSeries.province_code == payload.province_code,
            PlanSeries.programme_code == payload.programme_code,
            PlanSeries.start_year == payload.start_year,
            PlanSeries.end_year == payload.end_year,
        )
    ).first()
    if existing is not None:
        latest = latest_version(session, existing.id)
        raise Conflict(
            "This province already has a plan for that programme and period; revise it instead.",
            code=Code.ALREADY_EXISTS,
            plan_id=latest.id,
        )
    series = PlanSeries(
        province_code=payload.province_code,
        programme_code=payload.programme_code,
        start_year=payload.start_year,
        end_year=payload.end_year,
    )
    session.add(series)
    session.flush()
    plan = Plan(
        series_id=id_of(series),
        version=1,
        status=PlanStatus.DRAFT.value,
        title=payload.title,
        created_by=principal.subject,
    )
    _set_content(plan, payload)
    session.add(plan)
    session.flush()
    _write_lines(session, plan, payload.lines)
    return plan


def refuse_approved(plan: Plan) -> None:
    if plan.status != PlanStatus.DRAFT.value:
        raise Conflict(
            f"The plan {plan.id} is approved and cannot change; create a revision.",
            code=Code.PLAN_APPROVED_IS_FIXED,
            plan_status=plan.status,
        )


def lock(session: Session, plan: Plan) -> None:
    """Serialises writers of this plan version (an UPDATE takes the row lock first)."""
    session.execute(
        update(Plan)
        .where(col(Plan.id) == plan.id)
        .values(updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    session.refresh(plan)


def replace_content(session: Session, plan: Plan, content: PlanContent) -> None:
    lock(session, plan)
    refuse_approved(plan)
    _set_content(plan, content)
    session.add(plan)
    replace_lines(session, plan, content.lines)


def replace_lines(session: Session, plan: Plan, lines: list[LineIn]) -> None:
    lock(session, plan)
    refuse_approved(plan)
    old = select(col(PlanLine.id)).where(col(PlanLine.plan_id) == plan.id)
    session.execute(delete(PlanLineAmount).where(col(PlanLineAmount.line_id).in_(old)))
    session.execute(delete(PlanLine).where(col(PlanLine.plan_id) == plan.id))
    _write_lines(session, plan, lines)


def approve(session: Session, principal: Principal, plan: Plan) -> None:
    lock(session, plan)
    refuse_approved(plan)
    if not session.exec(select(PlanLine.id).where(PlanLine.plan_id == plan.id)).first():
        raise Conflict(
            "A plan without budget lines cannot be approved.", code=Code.PLAN_WITHOUT_LINES
        )
    plan.status = PlanStatus.APPROVED.value
    plan.approved_by = principal.subject
    plan.approved_at = utcnow()
    session.add(plan)
    outbox.emit(session, events.plan_approved(plan, series_of(session, plan)))


def latest_version(session: Session, series_id: int | None) -> Plan:
    plan = session.exec(
        select(Plan).where(Plan.series_id == series_id).order_by(col(Plan.version).desc())
    ).first()
    assert plan is not None
    return plan


def current_version(session: Session, series_id: int) -> Plan | None:
    """The newest approved version: the one money is planned against."""
    return session.exec(
        select(Plan)
        .where(Plan.series_id == series_id, Plan.status == PlanStatus.APPROVED.value)
        .order_by(col(Plan.version).desc())
    ).first()


def revise(session: Session, principal: Principal, plan: Plan) -> Plan:
    """A new draft version copying the newest one, which must be approved."""
    latest = latest_version(session, plan.series_id)
    if latest.status == PlanStatus.DRAFT.value:
        raise Conflict(
            f"The plan already has a draft revision (plan {latest.id}); change that one.",
            code=Code.DRAFT_REVISION_EXISTS,
            plan_id=latest.id,
        )
    revision = Plan(
        series_id=latest.series_id,
        version=latest.version + 1,
        status=PlanStatus.DRAFT.value,
        title=latest.title,
        notes=latest.notes,
        clubs_to_found=latest.clubs_to_found,
        clubs_to_maintain=latest.clubs_to_maintain,
        members=latest.members,
        older_members=latest.older_members,
        created_by=principal.subject,
    )
    session.add(revision)
    session.flush()
    _write_lines(session, revision, lines_in(session, latest))
    assert latest.id is not None and revision.id is not None
    targets.copy_to(session, latest.id, revision.id)
    return revision


def _lines(session: Session, plan_ids: list[int]) -> dict[int, list[LinePublic]]:
    amounts: dict[int, dict[Source, int]] = defaultdict(dict)
    rows = session.exec(
        select(PlanLineAmount, PlanLine.plan_id)
        .join(PlanLine, col(PlanLine.id) == col(PlanLineAmount.line_id))
        .where(col(PlanLine.plan_id).in_(plan_ids))
    )
    for amount, _ in rows:
        amounts[amount.line_id][Source(amount.source)] = amount.amount
    found: dict[int, list[LinePublic]] = {plan_id: [] for plan_id in plan_ids}
    lines = session.exec(
        select(PlanLine).where(col(PlanLine.plan_id).in_(plan_ids)).order_by(col(PlanLine.number))
    )
    for line in lines:
        assert line.id is not None
        by_source = dict(
            sorted(amounts[line.id].items(), key=lambda item: list(Source).index(item[0]))
        )
        found[line.plan_id].append(
            LinePublic(
                id=line.id,
                number=line.number,
                activity=line.activity,
                content=line.content,
                amounts=by_source,
                total=sum(by_source.values()),
            )
        )
    return found


def lines_in(session: Session, plan: Plan) -> list[LineIn]:
    assert plan.id is not None
    return [
        LineIn(
            number=line.number, activity=line.activity, content=line.content, amounts=line.amounts
        )
        for line in _lines(session, [plan.id])[plan.id]
    ]


def _current_ids(session: Session, series_ids: set[int]) -> set[int]:
    newest = (
        select(Plan.series_id, func.max(Plan.version).label("version"))
        .where(col(Plan.series_id).in_(series_ids), Plan.status == PlanStatus.APPROVED.value)
        .group_by(col(Plan.series_id))
        .subquery()
    )
    rows = session.exec(
        select(Plan.id).join(
            newest,
            (col(Plan.series_id) == newest.c.series_id) & (col(Plan.version) == newest.c.version),
        )
    )
    return {plan_id for plan_id in rows if plan_id is not None}


def targets_of(plan: Plan) -> Targets:
    return Targets(
        clubs_to_found=plan.clubs_to_found,
        clubs_to_maintain=plan.clubs_to_maintain,
        members=plan.members,
        older_members=plan.older_members,
    )


def public(session: Session, plan: Plan, series: PlanSeries | None = None) -> PlanPublic:
    assert plan.id is not None
    series = series or series_of(session, plan)
    lines = _lines(session, [plan.id])[plan.id]
    by_source: dict[Source, int] = {}
    for source in Source:
        total = sum(line.amounts.get(source, 0) for line in lines)
        if total:
            by_source[source] = total
    return PlanPublic(
        **plan.model_dump(exclude={"status"}),
        status=PlanStatus(plan.status),
        is_current=plan.id in _current_ids(session, {plan.series_id}),
        province_code=series.province_code,
        programme_code=series.programme_code,
        start_year=series.start_year,
        end_year=series.end_year,
        targets=targets_of(plan),
        lines=lines,
        totals_by_source=by_source,
        total=sum(by_source.values()),
    )


def summaries(session: Session, rows: list[tuple[Plan, PlanSeries]]) -> list[PlanSummary]:
    plan_ids = [plan.id for plan, _ in rows if plan.id is not None]
    totals = dict(
        session.exec(
            select(PlanLine.plan_id, func.sum(PlanLineAmount.amount))
            .join(PlanLineAmount, col(PlanLineAmount.line_id) == col(PlanLine.id))
            .where(col(PlanLine.plan_id).in_(plan_ids))
            .group_by(col(PlanLine.plan_id))
        ).all()
    )
    current = _current_ids(session, {plan.series_id for plan, _ in rows})
    return [
        PlanSummary(
            id=plan.id,
            series_id=plan.series_id,
            version=plan.version,
            status=PlanStatus(plan.status),
            is_current=plan.id in current,
            province_code=series.province_code,
            programme_code=series.programme_code,
            start_year=series.start_year,
            end_year=series.end_year,
            title=plan.title,
            total=int(totals.get(id_of(plan), 0)),
            approved_at=plan.approved_at,
        )
        for plan, series in rows
    ]
