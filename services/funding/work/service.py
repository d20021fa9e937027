"""A plan's tasks, the spending on its lines and its events, against the database.

Nothing here commits (the request does), and nothing here imports the plans' service: the
plans' service calls `copy_to` when it makes a revision, and the routes pass in what they
learnt of the plan (its series, its current version).
"""

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from pydantic_core import PydanticCustomError
from sqlalchemy import ColumnElement, delete, update
from sqlmodel import Session, col, select

from common import places
from common.auth import Principal
from common.clock import utcnow
from common.club_directory import ClubFacts
from common.db import id_of
from common.problem_codes import Code
from common.problems import Conflict, NotFound, ValidationFailed, field_error, invalid
from common.scope import Kind, Place, condition, covers_place, may_see
from services.funding.plans.models import Plan, PlanLine, PlanLineAmount, PlanSeries
from services.funding.reference import service as reference
from services.funding.rules import Activity, PlanStatus, ReferenceKind
from services.funding.work.models import PlanEvent, PlanEventClub, PlanTask, Spending
from services.funding.work.schemas import (
    EVENT_KIND_LABELS,
    EventClubPublic,
    EventCreate,
    EventKind,
    EventLevel,
    EventPublic,
    SpendingCreate,
    TaskIn,
    TaskPublic,
    TaskUpdate,
    When,
    WhenPublic,
    check_task,
)

# Tasks ---------------------------------------------------------------------------------------


def tasks_of(session: Session, plan_id: int) -> Sequence[PlanTask]:
    """In the order they were written."""
    return session.exec(
        select(PlanTask).where(PlanTask.plan_id == plan_id).order_by(col(PlanTask.id))
    ).all()


def task_of(session: Session, plan: Plan, task_id: int) -> PlanTask:
    task = session.get(PlanTask, task_id)
    if task is None or task.plan_id != plan.id:
        raise NotFound(f"No task {task_id} in plan {plan.id}.")
    return task


def _line_numbers(session: Session, plan_id: int | None) -> set[int]:
    return set(session.exec(select(PlanLine.number).where(PlanLine.plan_id == plan_id)).all())


def _check_years(series: PlanSeries, field: str, when: When | None) -> None:
    if when is None or when.year is None:
        return
    if not series.start_year <= when.year <= series.end_year:
        reason = f"{when.year} is outside the plan's years {series.start_year}–{series.end_year}"
        raise invalid(f"{field}.year", reason, code=Code.OUT_OF_RANGE)


def _check_task_references(
    session: Session, plan: Plan, series: PlanSeries, values: dict[str, Any]
) -> None:
    """The task's timing lies in the plan's years; its lines and sources are the plan's."""
    _check_years(series, "starts", _when(values.get("starts")))
    _check_years(series, "ends", _when(values.get("ends")))
    lines = _line_numbers(session, plan.id)
    for position, number in enumerate(values.get("line_numbers") or []):
        if number not in lines:
            reason = f"the plan has no budget line {number}"
            raise invalid(f"line_numbers.{position}", reason, code=Code.UNKNOWN_REFERENCE)
    named = values.get("sources") or []
    wanted = {
        f"sources.{position}": (ReferenceKind.SOURCES, source)
        for position, source in enumerate(named)
    }
    reference.check(session, wanted)


def _when(value: Any) -> When | None:
    return When.model_validate(value) if isinstance(value, dict) else value


def _timing_columns(prefix: str, when: When | None) -> dict[str, int | None]:
    return {
        f"{prefix}_year": when.year if when else None,
        f"{prefix}_month": when.month if when else None,
        f"{prefix}_quarter": when.quarter if when else None,
    }


def _columns(values: dict[str, Any]) -> dict[str, Any]:
    """A task's fields as its table's columns (the timing's ends spread over three each)."""
    columns = {name: value for name, value in values.items() if name not in ("starts", "ends")}
    for end in ("starts", "ends"):
        if end in values:
            prefix = "from" if end == "starts" else "to"
            columns |= _timing_columns(prefix, _when(values[end]))
    return columns


def add_task(
    session: Session, principal: Principal, plan: Plan, series: PlanSeries, payload: TaskIn
) -> PlanTask:
    values = payload.model_dump()
    _check_task_references(session, plan, series, values)
    task = PlanTask(plan_id=id_of(plan), created_by=principal.subject, **_columns(values))
    session.add(task)
    session.flush()
    return task


def _stored_when(task: PlanTask, prefix: str) -> When | None:
    year, month, quarter = (
        getattr(task, f"{prefix}_{part}") for part in ("year", "month", "quarter")
    )
    if year is None and month is None and quarter is None:
        return None
    return When(year=year, month=month, quarter=quarter)


def change_task(
    session: Session, plan: Plan, series: PlanSeries, task: PlanTask, payload: TaskUpdate
) -> None:
    changes = payload.model_dump(exclude_unset=True)
    merged_starts = _when(changes["starts"]) if "starts" in changes else _stored_when(task, "from")
    merged_ends = _when(changes["ends"]) if "ends" in changes else _stored_when(task, "to")
    try:
        check_task(merged_starts, merged_ends)
    except PydanticCustomError as error:  # the change is fine alone, not with what is stored
        raise invalid("ends", error.message(), code=Code(error.type)) from error
    _check_task_references(session, plan, series, changes)
    for name, value in _columns(changes).items():
        setattr(task, name, value)
    task.updated_at = utcnow()
    session.add(task)
    session.flush()


def task_public(task: PlanTask) -> TaskPublic:
    starts, ends = _stored_when(task, "from"), _stored_when(task, "to")
    return TaskPublic(
        **task.model_dump(),
        starts=WhenPublic(**starts.model_dump()) if starts else None,
        ends=WhenPublic(**ends.model_dump()) if ends else None,
    )


def copy_to(session: Session, source_plan_id: int, plan_id: int) -> None:
    """A revision starts with the tasks of the version it copies."""
    for task in tasks_of(session, source_plan_id):
        session.add(PlanTask(**task.model_dump(exclude={"id", "plan_id"}), plan_id=plan_id))


# Recording against the current version --------------------------------------------------------


def refuse_unless_current(plan: Plan, current: Plan | None) -> None:
    """Spending and events are recorded under the current approved version, as money is."""
    if plan.status != PlanStatus.APPROVED.value:
        raise Conflict(
            f"The plan {plan.id} is a draft; its work is recorded once it is approved.",
            code=Code.PLAN_NOT_APPROVED,
        )
    if current is None or current.id != plan.id:
        raise Conflict(
            f"The plan {plan.id} has a newer approved version; record against its lines.",
            code=Code.PLAN_SUPERSEDED,
            current_plan_id=current.id if current else None,
        )


def line_of(session: Session, plan: Plan, number: int) -> PlanLine:
    line = session.exec(
        select(PlanLine).where(PlanLine.plan_id == plan.id, PlanLine.number == number)
    ).first()
    if line is None:
        raise invalid("line_number", f"the plan has no line {number}", code=Code.UNKNOWN_REFERENCE)
    return line


# Spending ------------------------------------------------------------------------------------


def _check_spending_line(session: Session, line: PlanLine, source: str) -> None:
    if line.activity == Activity.SEED_CAPITAL.value:
        reason = (
            f"line {line.number} is capital for clubs' funds: record it as allocations "
            "(POST /api/v1/allocations)"
        )
        raise invalid("line_number", reason, code=Code.LINE_FOR_ALLOCATIONS)
    expected = session.exec(
        select(PlanLineAmount.id).where(
            PlanLineAmount.line_id == line.id, PlanLineAmount.source == source
        )
    ).first()
    if expected is None:
        reason = f"line {line.number} expects no money from the source {source}"
        raise invalid("source", reason, code=Code.SOURCE_NOT_IN_LINE)


def record_spending(
    session: Session,
    principal: Principal,
    plan: Plan,
    series: PlanSeries,
    payload: SpendingCreate,
) -> Spending:
    line = line_of(session, plan, payload.line_number)
    _check_spending_line(session, line, payload.source)
    spending = Spending(
        plan_id=id_of(plan),
        plan_line_id=id_of(line),
        series_id=id_of(series),
        line_number=line.number,
        source=payload.source,
        province_code=series.province_code,
        amount=payload.amount,
        spent_on=payload.spent_on,
        document=payload.document,
        description=payload.description,
        created_by=principal.subject,
    )
    session.add(spending)
    session.flush()
    return spending


def spending_of(session: Session, series: PlanSeries, spending_id: int) -> Spending:
    spending = session.get(Spending, spending_id)
    if spending is None or spending.series_id != series.id:
        raise NotFound(f"No spending {spending_id} on this plan.")
    return spending


def spending_filters(
    series: PlanSeries,
    line_number: int | None,
    source: str | None,
    date_from: date | None,
    date_to: date | None,
    withdrawn: bool | None,
) -> list[ColumnElement[bool]]:
    filters = [col(Spending.series_id) == series.id]
    if line_number is not None:
        filters.append(col(Spending.line_number) == line_number)
    if source is not None:
        filters.append(col(Spending.source) == source)
    if date_from is not None:
        filters.append(col(Spending.spent_on) >= date_from)
    if date_to is not None:
        filters.append(col(Spending.spent_on) <= date_to)
    if withdrawn is not None:
        withdrawn_at = col(Spending.withdrawn_at)
        filters.append(withdrawn_at.is_not(None) if withdrawn else withdrawn_at.is_(None))
    return filters


def withdraw_spending(
    session: Session, principal: Principal, spending: Spending, reason: str
) -> None:
    """Kept with who withdrew it, when and why; it then counts in no execution."""
    # The row lock first (an UPDATE takes it), so two withdrawals of one entry cannot both pass.
    session.execute(
        update(Spending)
        .where(col(Spending.id) == spending.id)
        .values(withdrawn_by=col(Spending.withdrawn_by))
        .execution_options(synchronize_session=False)
    )
    session.refresh(spending)
    if spending.withdrawn_at is not None:
        raise Conflict(
            f"The spending {spending.id} was withdrawn on {spending.withdrawn_at.date()}.",
            code=Code.SPENDING_WITHDRAWN,
        )
    spending.withdrawn_at, spending.withdrawn_by = utcnow(), principal.subject
    spending.withdrawal_reason = reason
    session.add(spending)
    session.flush()


# Events --------------------------------------------------------------------------------------


def check_event_place(
    principal: Principal, series: PlanSeries, level: EventLevel, commune_code: str | None
) -> None:
    """A commune event is in a commune of the plan's province that the caller covers."""
    if level is EventLevel.COMMUNE and commune_code is None:
        reason = "a commune-level event needs its commune_code"
        raise invalid("commune_code", reason, code=Code.REQUIRED_WITH)
    if level is EventLevel.PROVINCE and commune_code is not None:
        reason = "a province-level event has no commune_code"
        raise invalid("commune_code", reason, code=Code.NOT_ALLOWED_WITH)
    if commune_code is None:
        return
    commune = places.communes().get(commune_code)
    if commune is None:
        raise invalid("commune_code", f"no commune {commune_code}", code=Code.UNKNOWN_REFERENCE)
    if commune.province_code != series.province_code:
        reason = f"{commune_code} is not in the plan's province {series.province_code}"
        raise invalid("commune_code", reason, code=Code.OUTSIDE_SCOPE)
    if not covers_place(principal, series.province_code, commune_code):
        raise invalid("commune_code", "is outside your communes", code=Code.OUTSIDE_SCOPE)


def check_event_clubs(
    series: PlanSeries, club_ids: list[int], found: dict[int, ClubFacts]
) -> list[ClubFacts]:
    """The clubs, each of the plan's province; every club that is not is named."""
    errors = []
    for position, club_id in enumerate(club_ids):
        club = found.get(club_id)
        field = f"club_ids.{position}"
        if club is None:
            errors.append(field_error(field, f"no club {club_id}", code=Code.UNKNOWN_REFERENCE))
        elif club.province_code != series.province_code:
            reason = (
                f"club {club_id} is in province {club.province_code}, "
                f"not the plan's {series.province_code}"
            )
            errors.append(field_error(field, reason, code=Code.OUTSIDE_SCOPE))
    if errors:
        detail = "; ".join(f"{error.field}: {error.reason}" for error in errors)
        raise ValidationFailed(detail, errors=errors)
    return [found[club_id] for club_id in club_ids]


def _write_event_clubs(session: Session, event: PlanEvent, clubs: Iterable[ClubFacts]) -> None:
    session.execute(delete(PlanEventClub).where(col(PlanEventClub.event_id) == event.id))
    session.add_all(
        PlanEventClub(
            event_id=id_of(event),
            club_id=club.id,
            kind=event.kind,
            started_on=event.started_on,
            province_code=club.province_code,
            commune_code=club.commune_code,
            former_province_code=club.former_province_code,
            former_district_code=club.former_district_code,
        )
        for club in clubs
    )
    session.flush()


def record_event(
    session: Session,
    principal: Principal,
    plan: Plan,
    series: PlanSeries,
    payload: EventCreate,
    clubs: list[ClubFacts],
) -> PlanEvent:
    line_of(session, plan, payload.line_number)
    event = PlanEvent(
        series_id=id_of(series),
        plan_id=id_of(plan),
        province_code=series.province_code,
        created_by=principal.subject,
        kind=payload.kind.value,
        level=payload.level.value,
        **payload.model_dump(exclude={"club_ids", "kind", "level"}),
    )
    session.add(event)
    session.flush()
    _write_event_clubs(session, event, clubs)
    return event


def change_event(
    session: Session,
    plan: Plan,
    event: PlanEvent,
    changes: dict[str, Any],
    clubs: list[ClubFacts] | None,
) -> None:
    """`changes` are checked already, merged with the event (its place, its clubs)."""
    if "line_number" in changes:
        line_of(session, plan, changes["line_number"])
    for name, value in changes.items():
        if name != "club_ids":
            setattr(
                event, name, value.value if isinstance(value, EventLevel | EventKind) else value
            )
    event.updated_at = utcnow()
    session.add(event)
    session.flush()
    if clubs is not None:
        _write_event_clubs(session, event, clubs)
    else:
        session.execute(
            update(PlanEventClub)
            .where(col(PlanEventClub.event_id) == event.id)
            .values(kind=event.kind, started_on=event.started_on)
        )


def _place_of_event(event: Any) -> Place:
    return Place(province_code=event.province_code, commune_code=event.commune_code)


def event_of(
    session: Session, principal: Principal, series: PlanSeries, event_id: int
) -> PlanEvent:
    """An event of the plan's series; an officer narrowed to communes sees those of the
    province and of its communes."""
    event = session.get(PlanEvent, event_id)
    if (
        event is None
        or event.series_id != series.id
        or not may_see(principal, Kind.PLAN, _place_of_event(event))
    ):
        raise NotFound(f"No event {event_id} of this plan.")
    return event


def events_seen_by(principal: Principal) -> ColumnElement[bool]:
    columns = Place(
        province_code=col(PlanEvent.province_code), commune_code=col(PlanEvent.commune_code)
    )
    return condition(principal, Kind.PLAN, columns)


def event_filters(
    principal: Principal,
    series: PlanSeries,
    kind: EventKind | None,
    commune_code: str | None,
    club_id: int | None,
    date_from: date | None,
    date_to: date | None,
) -> list[ColumnElement[bool]]:
    filters = [col(PlanEvent.series_id) == series.id, events_seen_by(principal)]
    if kind is not None:
        filters.append(col(PlanEvent.kind) == kind.value)
    if commune_code is not None:
        filters.append(col(PlanEvent.commune_code) == commune_code)
    if club_id is not None:
        involved = select(PlanEventClub.event_id).where(PlanEventClub.club_id == club_id)
        filters.append(col(PlanEvent.id).in_(involved))
    if date_from is not None:
        filters.append(col(PlanEvent.started_on) >= date_from)
    if date_to is not None:
        filters.append(col(PlanEvent.started_on) <= date_to)
    return filters


def events_public(session: Session, events: Sequence[PlanEvent]) -> list[EventPublic]:
    ids = [event.id for event in events]
    clubs: dict[int, list[EventClubPublic]] = {id_of(event): [] for event in events}
    rows = session.exec(
        select(PlanEventClub)
        .where(col(PlanEventClub.event_id).in_(ids))
        .order_by(col(PlanEventClub.id))
    )
    for row in rows:
        clubs[row.event_id].append(EventClubPublic.model_validate(row))
    return [
        EventPublic(
            **event.model_dump(exclude={"kind", "level"}),
            kind=EventKind(event.kind),
            level=EventLevel(event.level),
            kind_label=EVENT_KIND_LABELS[EventKind(event.kind)],
            clubs=clubs[id_of(event)],
        )
        for event in events
    ]
