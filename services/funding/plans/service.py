"""Plans against the database: versions, budget lines and their public form. Nothing commits."""

from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence

from sqlalchemy import delete, func, update
from sqlmodel import Session, col, select

from common.auth import Principal
from common.clock import utcnow
from common.db import id_of
from common.problem_codes import Code
from common.problems import Conflict, FieldError, NotFound, ValidationFailed, field_error
from common.spreadsheets import Upload
from services.funding import events
from services.funding.models import outbox
from services.funding.plans import budget_table
from services.funding.plans.models import Plan, PlanLine, PlanLineAmount, PlanSeries
from services.funding.plans.schemas import (
    LineIn,
    LinePublic,
    PlanContent,
    PlanCreate,
    PlanPublic,
    PlanSummary,
    Targets,
    known_sum,
)
from services.funding.reference import service as reference
from services.funding.reference.models import ReferenceItem
from services.funding.rules import PlanStatus, ReferenceKind
from services.funding.scope import sees_plans_of
from services.funding.targets import service as targets
from services.funding.work import service as work


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


def check_lines(
    session: Session, lines: Sequence[LineIn], total_mismatch: str | None = None
) -> None:
    """Every activity and source the lines name is in its reference list and not retired,
    and the plan's stated total is theirs: one 422 naming each problem otherwise."""
    wanted: dict[str, tuple[ReferenceKind, str]] = {}
    for index, line in enumerate(lines):
        wanted[f"lines.{index}.activity"] = (ReferenceKind.ACTIVITIES, line.activity)
        for source in line.amounts:
            wanted[f"lines.{index}.amounts.{source}.[key]"] = (ReferenceKind.SOURCES, source)
    errors: list[FieldError] = []
    try:
        reference.check(session, wanted)
    except ValidationFailed as refused:
        errors += refused.errors or []
    if total_mismatch is not None:
        # Where pydantic puts a rule of the whole body.
        errors.append(field_error("body", total_mismatch, code=Code.SUM_MISMATCH))
    if errors:
        summary = "; ".join(f"{error.field}: {error.reason}" for error in errors[:3])
        raise ValidationFailed(f"Invalid plan: {summary}", errors=errors)


def _write_lines(
    session: Session, plan: Plan, lines: Iterable[LineIn], inferred: Collection[int] = ()
) -> None:
    """Writes the lines; `inferred` are the numbers of those whose activity was read from
    their wording, for the officer to confirm."""
    for line in lines:
        assert line.number is not None
        row = PlanLine(
            plan_id=id_of(plan),
            number=line.number,
            activity=line.activity,
            content=line.content,
            activity_inferred=line.number in inferred,
        )
        session.add(row)
        session.flush()
        # A source giving 0 expects nothing; one named without its amount (None) is kept.
        session.add_all(
            PlanLineAmount(line_id=id_of(row), source=source, amount=amount)
            for source, amount in line.amounts.items()
            if amount != 0
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
    check_lines(session, payload.lines, payload.total_mismatch())
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
    replace_lines(session, plan, content.lines, total_mismatch=content.total_mismatch())


def replace_lines(
    session: Session,
    plan: Plan,
    lines: list[LineIn],
    inferred: Collection[int] = (),
    total_mismatch: str | None = None,
) -> None:
    lock(session, plan)
    refuse_approved(plan)
    check_lines(session, lines, total_mismatch)
    old = select(col(PlanLine.id)).where(col(PlanLine.plan_id) == plan.id)
    session.execute(delete(PlanLineAmount).where(col(PlanLineAmount.line_id).in_(old)))
    session.execute(delete(PlanLine).where(col(PlanLine.plan_id) == plan.id))
    _write_lines(session, plan, lines, inferred)


def vocabulary(session: Session) -> budget_table.Vocabulary:
    """The names a budget table may give the sources and activities of the lists."""
    return budget_table.Vocabulary(
        sources=_named(reference.items(session, ReferenceKind.SOURCES)),
        activities=_named(reference.items(session, ReferenceKind.ACTIVITIES)),
    )


def _named(items: Iterable[ReferenceItem]) -> dict[str, tuple[str, ...]]:
    # Retired items are left out: a table naming one is refused at its row and column.
    return {item.code: (item.name_vi, item.name_en) for item in items if not item.retired}


def import_table(session: Session, plan: Plan, upload: Upload, unit: budget_table.Unit) -> None:
    """Replaces a draft's lines with an uploaded budget table's; lines whose activity was
    read from their wording are marked for the officer to confirm."""
    imported = budget_table.import_table(
        upload.data, upload.file_name, upload.content_type, unit, vocabulary(session)
    )
    replace_lines(session, plan, imported.lines, imported.inferred)


def table_labels(session: Session) -> budget_table.Labels:
    """The Vietnamese names an exported table shows for sources and activities."""
    return budget_table.Labels(
        sources=reference.labels(session, ReferenceKind.SOURCES),
        activities=reference.labels(session, ReferenceKind.ACTIVITIES),
    )


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
    # Copied as they were: a revision keeps the codes its lines had, retired or not.
    assert latest.id is not None
    lines = _lines(session, [latest.id])[latest.id]
    _write_lines(session, revision, _as_input(lines), _inferred(lines))
    assert latest.id is not None and revision.id is not None
    targets.copy_to(session, latest.id, revision.id)
    work.copy_to(session, latest.id, revision.id)
    return revision


def _source_order(session: Session) -> dict[str, int]:
    return reference.order_of(session, ReferenceKind.SOURCES)


def _in_order(codes: Iterable[str], order: dict[str, int]) -> list[str]:
    """Codes in their reference list's order (any not in it last, by code)."""
    return sorted(codes, key=lambda code: (order.get(code, len(order)), code))


def _lines(session: Session, plan_ids: list[int]) -> dict[int, list[LinePublic]]:
    amounts: dict[int, dict[str, int | None]] = defaultdict(dict)
    rows = session.exec(
        select(PlanLineAmount, PlanLine.plan_id)
        .join(PlanLine, col(PlanLine.id) == col(PlanLineAmount.line_id))
        .where(col(PlanLine.plan_id).in_(plan_ids))
    )
    for amount, _ in rows:
        amounts[amount.line_id][amount.source] = amount.amount
    order = _source_order(session)
    found: dict[int, list[LinePublic]] = {plan_id: [] for plan_id in plan_ids}
    lines = session.exec(
        select(PlanLine).where(col(PlanLine.plan_id).in_(plan_ids)).order_by(col(PlanLine.number))
    )
    for line in lines:
        assert line.id is not None
        given = amounts[line.id]
        by_source = {code: given[code] for code in _in_order(given, order)}
        found[line.plan_id].append(
            LinePublic(
                id=line.id,
                number=line.number,
                activity=line.activity,
                activity_inferred=line.activity_inferred,
                content=line.content,
                amounts=by_source,
                total=known_sum(by_source),
            )
        )
    return found


def _as_input(lines: list[LinePublic]) -> list[LineIn]:
    return [
        LineIn(
            number=line.number, activity=line.activity, content=line.content, amounts=line.amounts
        )
        for line in lines
    ]


def _inferred(lines: list[LinePublic]) -> set[int]:
    return {line.number for line in lines if line.activity_inferred}


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
    named = {source for line in lines for source in line.amounts}
    by_source = {
        source: sum(line.amounts.get(source) or 0 for line in lines)
        for source in _in_order(named, _source_order(session))
    }
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
            total=int(totals.get(id_of(plan)) or 0),
            approved_at=plan.approved_at,
        )
        for plan, series in rows
    ]
