"""`/api/v1/plans`: province plans with their budget tables, versions and execution.

Admins and the province's officers write; partners read approved plans; services read all.
"""

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Query, Response, UploadFile
from sqlalchemy import ColumnElement, and_, func
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from common import clock
from common.auth import CurrentPrincipal, Principal, Role, refuse_service_writes, require_roles
from common.club_directory import ClubDirectoryDep
from common.db import SessionDep
from common.idempotency import Idempotency
from common.paging import page_of
from common.personal_data import as_seen_by
from common.problem_codes import Code
from common.problems import NotFound, ServiceUnavailable, invalid
from common.schemas import IdPath, Page, PageDep, WrittenDay
from common.scope import covers_place
from common.spreadsheets import Upload
from services.funding.catalogue.models import Programme
from services.funding.plans import budget_table, execution, service
from services.funding.plans.models import Plan, PlanSeries
from services.funding.plans.schemas import (
    AreaExecution,
    PlanContent,
    PlanCreate,
    PlanExecution,
    PlanPublic,
    PlanSummary,
    ProvinceCode,
    Year,
)
from services.funding.rules import PlanStatus
from services.funding.scope import PLANNERS, READERS, sees_plans_of

router = APIRouter(
    prefix="/api/v1/plans", tags=["plans"], dependencies=[Depends(require_roles(*READERS))]
)
Planner = Annotated[Principal, Depends(require_roles(*PLANNERS))]
FileFormat = Literal["xlsx", "csv"]
Unit = Literal["million", "dong"]
MEDIA_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}


def readable_plan(
    plan_id: IdPath, session: SessionDep, principal: CurrentPrincipal
) -> tuple[Plan, PlanSeries]:
    return service.visible_plan(session, principal, plan_id)


ReadablePlan = Annotated[tuple[Plan, PlanSeries], Depends(readable_plan)]


def writable_plan(found: ReadablePlan, principal: Planner) -> Plan:
    """A plan of the caller's province (partners and services never write plans)."""
    refuse_service_writes(principal)
    return found[0]


WritablePlan = Annotated[Plan, Depends(writable_plan)]


async def _check_place_and_programme(
    session: Session, directory: ClubDirectoryDep, payload: PlanCreate, principal: Principal
) -> None:
    if await directory.province_name(payload.province_code) is None:
        reason = f"no province {payload.province_code}"
        raise invalid("province_code", reason, code=Code.UNKNOWN_REFERENCE)
    if not covers_place(principal, payload.province_code, None):
        raise invalid("province_code", "is outside your provinces", code=Code.OUTSIDE_SCOPE)
    if await run_in_threadpool(session.get, Programme, payload.programme_code) is None:
        reason = f"no programme {payload.programme_code!r}"
        raise invalid("programme_code", reason, code=Code.UNKNOWN_REFERENCE)


@router.post("", response_model=PlanPublic, status_code=201, summary="Draft a province plan")
async def create_plan(
    payload: PlanCreate,
    session: SessionDep,
    principal: Planner,
    directory: ClubDirectoryDep,
    idem: Idempotency,
) -> Any:
    refuse_service_writes(principal)
    await _check_place_and_programme(session, directory, payload, principal)

    def write() -> Any:
        plan = service.create(session, principal, payload)
        return idem.respond(session, service.public(session, plan))

    return await run_in_threadpool(write)


def _plan_filters(
    principal: Principal,
    province: str | None,
    programme: str | None,
    year: int | None,
    status: PlanStatus | None,
) -> list[ColumnElement[bool]]:
    filters: list[ColumnElement[bool]] = []
    if principal.role is Role.OFFICER:
        filters.append(col(PlanSeries.province_code).in_(principal.provinces))
    if principal.role is Role.PARTNER:
        filters.append(col(Plan.status) == PlanStatus.APPROVED.value)
    if province:
        filters.append(col(PlanSeries.province_code) == province)
    if programme:
        filters.append(col(PlanSeries.programme_code) == programme)
    if year is not None:
        filters.append(and_(col(PlanSeries.start_year) <= year, col(PlanSeries.end_year) >= year))
    if status is not None:
        filters.append(col(Plan.status) == status.value)
    return filters


@router.get("", response_model=Page[PlanSummary], summary="List plans in scope")
def list_plans(
    session: SessionDep,
    principal: CurrentPrincipal,
    page: PageDep,
    province: ProvinceCode | None = None,
    programme: Annotated[str | None, Query(max_length=30)] = None,
    year: Annotated[Year | None, Query(description="Plans covering this year.")] = None,
    status: PlanStatus | None = None,
    all_versions: Annotated[
        bool, Query(description="Every version, not only the newest of each plan.")
    ] = False,
) -> Page[PlanSummary]:
    filters = _plan_filters(principal, province, programme, year, status)
    if not all_versions:
        newest = (
            select(func.max(col(Plan.version)))
            .where(col(Plan.series_id) == col(PlanSeries.id), *_status_only(principal, status))
            .correlate(PlanSeries)
            .scalar_subquery()
        )
        filters.append(col(Plan.version) == newest)
    query = select(Plan, PlanSeries).join(PlanSeries, col(PlanSeries.id) == col(Plan.series_id))
    paged = page_of(
        session,
        query.where(*filters),
        page,
        col(PlanSeries.start_year).desc(),
        col(PlanSeries.province_code),
        col(Plan.id),
    )
    return paged.page(service.summaries(session, [(plan, series) for plan, series in paged.rows]))


def _status_only(principal: Principal, status: PlanStatus | None) -> list[ColumnElement[bool]]:
    """Which versions count as "newest": a partner's newest is the newest approved one."""
    if principal.role is Role.PARTNER:
        return [col(Plan.status) == PlanStatus.APPROVED.value]
    return [col(Plan.status) == status.value] if status is not None else []


@router.get(
    "/execution",
    response_model=AreaExecution,
    summary="Planned against actual over the current plans of an area or the country",
)
def area_execution(
    session: SessionDep,
    principal: Annotated[Principal, Depends(require_roles(Role.ADMIN, Role.OFFICER, Role.SERVICE))],
    province: ProvinceCode | None = None,
    programme: Annotated[str | None, Query(max_length=30)] = None,
    year: Annotated[Year | None, Query(description="Plans covering this year.")] = None,
) -> AreaExecution:
    if province and not sees_plans_of(principal, province):
        raise NotFound(f"No plans of province {province} in your scope.")
    return execution.for_area(session, principal, province, programme, year)


@router.get("/{plan_id}", response_model=PlanPublic, summary="A plan version with its lines")
def get_plan(found: ReadablePlan, session: SessionDep, principal: CurrentPrincipal) -> PlanPublic:
    plan, series = found
    return as_seen_by(principal, service.public(session, plan, series))


@router.put("/{plan_id}", response_model=PlanPublic, summary="Change a draft plan")
def update_plan(plan: WritablePlan, payload: PlanContent, session: SessionDep) -> PlanPublic:
    service.replace_content(session, plan, payload)
    return service.public(session, plan)


@router.post("/{plan_id}/approve", response_model=PlanPublic, summary="Approve a draft plan")
def approve_plan(plan: WritablePlan, session: SessionDep, principal: Planner) -> PlanPublic:
    service.approve(session, principal, plan)
    return service.public(session, plan)


@router.post(
    "/{plan_id}/revisions",
    response_model=PlanPublic,
    status_code=201,
    summary="Start a revision: a new draft version copying the newest approved one",
)
def revise_plan(
    plan: WritablePlan, session: SessionDep, principal: Planner, idem: Idempotency
) -> Any:
    revision = service.revise(session, principal, plan)
    return idem.respond(session, service.public(session, revision))


@router.get(
    "/{plan_id}/versions", response_model=list[PlanSummary], summary="Every version of the plan"
)
def plan_versions(found: ReadablePlan, session: SessionDep, principal: CurrentPrincipal) -> Any:
    _, series = found
    versions = session.exec(
        select(Plan).where(Plan.series_id == series.id).order_by(col(Plan.version))
    ).all()
    readable = [plan for plan in versions if service.may_read(principal, series, plan)]
    return service.summaries(session, [(plan, series) for plan in readable])


@router.get(
    "/{plan_id}/execution",
    response_model=PlanExecution,
    summary="Planned, committed, received and allocated, per line and per source",
)
def plan_execution(
    found: ReadablePlan,
    session: SessionDep,
    principal: CurrentPrincipal,
    on: Annotated[
        WrittenDay | None, Query(description="Money moved up to this date (today).")
    ] = None,
) -> PlanExecution:
    plan, _ = found
    return execution.for_plan(session, principal, plan, on or clock.today())


@router.get(
    "/{plan_id}/table",
    summary="The plan as a budget estimate table (XLSX or CSV)",
    response_class=Response,
    responses={200: {"content": {media: {} for media in MEDIA_TYPES.values()}}},
)
async def export_plan(
    found: ReadablePlan,
    session: SessionDep,
    directory: ClubDirectoryDep,
    format: FileFormat = "xlsx",
    unit: Annotated[Unit, Query(description="Million đồng, as provinces write, or đồng.")] = (
        "million"
    ),
) -> Response:
    plan, series = found
    public = await run_in_threadpool(service.public, session, plan, series)
    try:
        province_name = await directory.province_name(series.province_code)
    except ServiceUnavailable:  # The table is still useful without the province's name.
        province_name = None
    labels = await run_in_threadpool(service.table_labels, session)
    data = await run_in_threadpool(
        budget_table.export_table, public, format, unit, province_name, labels
    )
    file_name = f"plan-{series.province_code}-{series.start_year}-v{plan.version}.{format}"
    return Response(
        data,
        media_type=MEDIA_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="{file_name}"'},
    )


@router.put(
    "/{plan_id}/table",
    response_model=PlanPublic,
    summary="Replace a draft plan's budget lines from a budget estimate table",
    description="A .xlsx or .csv laid out like the export or as the plans print it (title "
    "rows, STT, content, total, one column per source, also under a `Kinh phí` header over "
    "two rows, a total row; `Trong dự toán` names a source whose amount is not known yet). "
    "Lines whose activity was read from their wording come back with `activity_inferred`, "
    "for the officer to confirm. Every problem is listed with its row and column; nothing "
    "changes unless the whole table is right.",
)
async def import_plan(
    plan: WritablePlan,
    session: SessionDep,
    file: Annotated[UploadFile, File(description="The budget table, .xlsx or .csv.")],
    unit: Annotated[Unit, Query(description="The unit of the table's amounts.")] = "million",
) -> PlanPublic:
    upload = Upload(await file.read(), file.filename, file.content_type)

    def write() -> PlanPublic:
        service.import_table(session, plan, upload, unit)
        return service.public(session, plan)

    return await run_in_threadpool(write)
