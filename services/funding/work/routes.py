"""`/api/v1/plans/{plan_id}/tasks`, `…/spending` and `…/events`: the work a plan holds beyond
its budget lines.

Tasks are read with the plan (partners read those of approved plans) and written by those who
write it, while it is a draft. Spending and events are the province's own bookkeeping: admins
and the province's officers record and read them, services read them; partners and the bank
are refused (403), an officer of another province finds no plan (404).
"""

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response
from sqlmodel import select
from starlette.concurrency import run_in_threadpool

from common.auth import CurrentPrincipal, Principal, Role, require_roles
from common.club_directory import ClubDirectory, ClubDirectoryDep, ClubFacts
from common.db import SessionDep
from common.idempotency import Idempotency
from common.paging import page_of
from common.personal_data import as_seen_by
from common.problem_codes import Code
from common.problems import invalid
from common.schemas import Id, IdPath, Page, PageDep, WrittenDay
from services.funding.plans import service as plans
from services.funding.plans.models import Plan, PlanSeries
from services.funding.plans.routes import ReadablePlan, WritablePlan
from services.funding.reference.schemas import SourceCode
from services.funding.scope import PLANNERS, READERS
from services.funding.work import service
from services.funding.work.models import PlanEvent, Spending
from services.funding.work.schemas import (
    CommuneCode,
    EventCreate,
    EventKind,
    EventLevel,
    EventPublic,
    EventUpdate,
    LineNumber,
    SpendingCreate,
    SpendingPublic,
    SpendingWithdrawal,
    TaskIn,
    TaskPublic,
    TaskUpdate,
)

router = APIRouter(
    prefix="/api/v1/plans",
    tags=["plan tasks, spending and events"],
    dependencies=[Depends(require_roles(*READERS))],
)
Recorder = Annotated[Principal, Depends(require_roles(*PLANNERS))]
BookReader = Annotated[Principal, Depends(require_roles(Role.ADMIN, Role.OFFICER, Role.SERVICE))]
DateFrom = Annotated[WrittenDay | None, Query(alias="from", description="On or after this day.")]
DateTo = Annotated[WrittenDay | None, Query(alias="to", description="On or before this day.")]


def _dates_in_order(date_from: date | None, date_to: date | None) -> None:
    if date_from and date_to and date_from > date_to:
        raise invalid("from", "is after 'to'", "query", code=Code.DATE_OUT_OF_ORDER)


# Tasks ---------------------------------------------------------------------------------------


@router.get("/{plan_id}/tasks", response_model=list[TaskPublic], summary="A plan version's tasks")
def list_tasks(found: ReadablePlan, session: SessionDep, principal: CurrentPrincipal) -> Any:
    plan, _ = found
    tasks = service.tasks_of(session, plan.id or 0)
    return [as_seen_by(principal, service.task_public(task)) for task in tasks]


@router.post(
    "/{plan_id}/tasks",
    response_model=TaskPublic,
    status_code=201,
    summary="Add a task to a draft plan: its lead and partner agencies, timing, lines, sources",
)
def add_task(
    plan: WritablePlan,
    payload: TaskIn,
    session: SessionDep,
    principal: CurrentPrincipal,
    idem: Idempotency,
) -> Any:
    plans.lock(session, plan)
    plans.refuse_approved(plan)
    series = plans.series_of(session, plan)
    task = service.add_task(session, principal, plan, series, payload)
    location = f"/api/v1/plans/{plan.id}/tasks/{task.id}"
    return idem.respond(session, service.task_public(task), headers={"Location": location})


@router.get("/{plan_id}/tasks/{task_id}", response_model=TaskPublic, summary="One task")
def get_task(
    found: ReadablePlan, task_id: IdPath, session: SessionDep, principal: CurrentPrincipal
) -> Any:
    plan, _ = found
    return as_seen_by(principal, service.task_public(service.task_of(session, plan, task_id)))


@router.patch(
    "/{plan_id}/tasks/{task_id}", response_model=TaskPublic, summary="Change a draft plan's task"
)
def change_task(
    plan: WritablePlan, task_id: IdPath, payload: TaskUpdate, session: SessionDep
) -> TaskPublic:
    plans.lock(session, plan)
    plans.refuse_approved(plan)
    task = service.task_of(session, plan, task_id)
    service.change_task(session, plan, plans.series_of(session, plan), task, payload)
    return service.task_public(task)


@router.delete(
    "/{plan_id}/tasks/{task_id}", status_code=204, summary="Remove a task from a draft plan"
)
def remove_task(plan: WritablePlan, task_id: IdPath, session: SessionDep) -> Response:
    plans.lock(session, plan)
    plans.refuse_approved(plan)
    session.delete(service.task_of(session, plan, task_id))
    return Response(status_code=204)


# Spending ------------------------------------------------------------------------------------


@router.post(
    "/{plan_id}/spending",
    response_model=SpendingPublic,
    status_code=201,
    summary="Record money spent on a plan line (training, launches, monitoring, conferences)",
    description="Against a line of the plan's current approved version and one of the sources "
    "that line expects; counted in the plan's execution as `spent` (with allocations to "
    "clubs). Capital for clubs' funds is not spending: it is allocated.",
)
def record_spending(
    principal: Recorder,
    found: ReadablePlan,
    payload: SpendingCreate,
    session: SessionDep,
    idem: Idempotency,
) -> Any:
    plan, series = found
    service.refuse_unless_current(plan, plans.current_version(session, plan.series_id))
    spending = service.record_spending(session, principal, plan, series, payload)
    location = f"/api/v1/plans/{plan.id}/spending/{spending.id}"
    answer = SpendingPublic.model_validate(spending)
    return idem.respond(session, answer, headers={"Location": location})


@router.get(
    "/{plan_id}/spending",
    response_model=Page[SpendingPublic],
    summary="Spending on the plan (any of its versions), newest first",
)
def list_spending(
    _principal: BookReader,
    found: ReadablePlan,
    session: SessionDep,
    page: PageDep,
    line_number: LineNumber | None = None,
    source: SourceCode | None = None,
    date_from: DateFrom = None,
    date_to: DateTo = None,
    withdrawn: Annotated[
        bool | None, Query(description="Only withdrawn entries (true) or only standing ones.")
    ] = None,
) -> Any:
    _dates_in_order(date_from, date_to)
    _, series = found
    filters = service.spending_filters(series, line_number, source, date_from, date_to, withdrawn)
    paged = page_of(
        session,
        select(Spending).where(*filters),
        page,
        Spending.spent_on.desc(),  # type: ignore[attr-defined]
        Spending.id.desc(),  # type: ignore[union-attr]
    )
    return paged.page([SpendingPublic.model_validate(row) for row in paged.rows])


@router.get(
    "/{plan_id}/spending/{spending_id}", response_model=SpendingPublic, summary="One spending"
)
def get_spending(
    _principal: BookReader, found: ReadablePlan, spending_id: IdPath, session: SessionDep
) -> Any:
    _, series = found
    return SpendingPublic.model_validate(service.spending_of(session, series, spending_id))


@router.post(
    "/{plan_id}/spending/{spending_id}/withdrawal",
    response_model=SpendingPublic,
    summary="Withdraw spending recorded by mistake",
    description="The entry is kept with who withdrew it, when and why, and counts in no "
    "execution from then on. 409 when it was withdrawn already.",
)
def withdraw_spending(
    principal: Recorder,
    found: ReadablePlan,
    spending_id: IdPath,
    payload: SpendingWithdrawal,
    session: SessionDep,
    idem: Idempotency,
) -> Any:
    _, series = found
    spending = service.spending_of(session, series, spending_id)
    service.withdraw_spending(session, principal, spending, payload.reason)
    return idem.respond(session, SpendingPublic.model_validate(spending), 200)


# Events --------------------------------------------------------------------------------------


async def _clubs(
    directory: ClubDirectory, series: PlanSeries, club_ids: list[int]
) -> list[ClubFacts]:
    found = await directory.facts(set(club_ids)) if club_ids else {}
    return service.check_event_clubs(series, club_ids, found)


def _current(session: SessionDep, plan: Plan) -> None:
    service.refuse_unless_current(plan, plans.current_version(session, plan.series_id))


@router.post(
    "/{plan_id}/events",
    response_model=EventPublic,
    status_code=201,
    summary="Record an event above the club under a plan line",
    description="A training class, a club launch, a monitoring or technical-support visit, an "
    "exchange visit or a review conference, of the province or of one of its communes, with "
    "the clubs it involved (each must be in the plan's province).",
)
async def record_event(
    principal: Recorder,
    found: ReadablePlan,
    payload: EventCreate,
    session: SessionDep,
    directory: ClubDirectoryDep,
    idem: Idempotency,
) -> Any:
    plan, series = found
    await run_in_threadpool(_current, session, plan)
    service.check_event_place(principal, series, payload.level, payload.commune_code)
    clubs = await _clubs(directory, series, payload.club_ids)

    def write() -> Any:
        event = service.record_event(session, principal, plan, series, payload, clubs)
        answer = service.events_public(session, [event])[0]
        location = f"/api/v1/plans/{plan.id}/events/{event.id}"
        return idem.respond(session, answer, headers={"Location": location})

    return await run_in_threadpool(write)


@router.get(
    "/{plan_id}/events",
    response_model=Page[EventPublic],
    summary="The plan's events (any of its versions), newest first",
)
def list_events(
    principal: BookReader,
    found: ReadablePlan,
    session: SessionDep,
    page: PageDep,
    kind: EventKind | None = None,
    commune_code: CommuneCode | None = None,
    club_id: Annotated[Id | None, Query(description="Events that involved this club.")] = None,
    date_from: DateFrom = None,
    date_to: DateTo = None,
) -> Any:
    _dates_in_order(date_from, date_to)
    _, series = found
    filters = service.event_filters(
        principal, series, kind, commune_code, club_id, date_from, date_to
    )
    paged = page_of(
        session,
        select(PlanEvent).where(*filters),
        page,
        PlanEvent.started_on.desc(),  # type: ignore[attr-defined]
        PlanEvent.id.desc(),  # type: ignore[union-attr]
    )
    return paged.page(service.events_public(session, paged.rows))


@router.get("/{plan_id}/events/{event_id}", response_model=EventPublic, summary="One event")
def get_event(
    principal: BookReader, found: ReadablePlan, event_id: IdPath, session: SessionDep
) -> Any:
    _, series = found
    event = service.event_of(session, principal, series, event_id)
    return service.events_public(session, [event])[0]


@router.patch(
    "/{plan_id}/events/{event_id}",
    response_model=EventPublic,
    summary="Correct an event",
    description="Fields left out stay; `club_ids` replaces the list. Under the plan's current "
    "approved version.",
)
async def change_event(
    principal: Recorder,
    found: ReadablePlan,
    event_id: IdPath,
    payload: EventUpdate,
    session: SessionDep,
    directory: ClubDirectoryDep,
) -> Any:
    plan, series = found
    await run_in_threadpool(_current, session, plan)
    event = await run_in_threadpool(service.event_of, session, principal, series, event_id)
    changes = payload.model_dump(exclude_unset=True)
    level = EventLevel(changes.get("level", event.level))
    if level is EventLevel.PROVINCE and "commune_code" not in changes:
        changes["commune_code"] = None  # a commune event made the province's loses its commune
    commune_code = changes.get("commune_code", event.commune_code)
    service.check_event_place(principal, series, level, commune_code)
    clubs = None
    if "club_ids" in changes:
        clubs = await _clubs(directory, series, changes["club_ids"])

    def write() -> EventPublic:
        service.change_event(session, plan, event, changes, clubs)
        return service.events_public(session, [event])[0]

    return await run_in_threadpool(write)
