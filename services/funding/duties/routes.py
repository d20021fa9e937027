"""`/api/v1/reporting-duties`: which level reports what to whom and when, each period's due
date and status, and the reports as sent (frozen: their figures never change).

Admins and the reporter's province's officers set and send duties (the national office's are
the admins'); partners, club boards and the bank have no access.
"""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlmodel import col, select
from starlette.concurrency import run_in_threadpool

from common.auth import CurrentPrincipal, Role, Writer, require_roles
from common.db import SessionDep
from common.export import FILE_ANSWERS, FileFormat, file_answer
from common.idempotency import Idempotency
from common.paging import page_of
from common.problem_codes import Code
from common.problems import ServiceUnavailable
from common.schemas import Id, IdPath, Page, PageDep
from services.funding.duties import service
from services.funding.duties.models import ReportingDuty
from services.funding.duties.schemas import (
    DutyCreate,
    DutyPeriod,
    DutyPublic,
    DutyReportPublic,
    DutyUpdate,
    ReportingLevel,
    ReportSend,
)
from services.funding.targets import build, export, report

router = APIRouter(
    prefix="/api/v1/reporting-duties",
    tags=["reporting duties"],
    dependencies=[Depends(require_roles(Role.ADMIN, Role.OFFICER, Role.SERVICE))],
)


def readable_duty(
    duty_id: IdPath, session: SessionDep, principal: CurrentPrincipal
) -> ReportingDuty:
    return service.visible_duty(session, principal, duty_id)


ReadableDuty = Annotated[ReportingDuty, Depends(readable_duty)]


def writable_duty(duty: ReadableDuty, _principal: Writer) -> ReportingDuty:
    return duty


WritableDuty = Annotated[ReportingDuty, Depends(writable_duty)]


@router.post(
    "",
    response_model=DutyPublic,
    status_code=201,
    summary="Set a reporting duty: who reports on which plan or phase, to whom, how often",
    description="A commune or a province reports on a plan of its province (a commune on the "
    "plan's targets over that commune), the national office on a programme phase. Periods are "
    "six months (`2018-H1`), years (`2018`) or the plan's or phase's whole years (end of "
    "phase); each report is due `due_days` after its period ends.",
)
def create_duty(
    payload: DutyCreate, session: SessionDep, principal: Writer, idem: Idempotency
) -> Any:
    duty = service.create(session, principal, payload)
    location = f"/api/v1/reporting-duties/{duty.id}"
    return idem.respond(session, service.public(duty), headers={"Location": location})


@router.get("", response_model=Page[DutyPublic], summary="Reporting duties in scope")
def list_duties(
    session: SessionDep,
    principal: CurrentPrincipal,
    page: PageDep,
    plan_id: Annotated[Id | None, Query(description="Duties reporting on this plan.")] = None,
    reporter_level: ReportingLevel | None = None,
    province: Annotated[str | None, Query(pattern=r"^\d{2}$")] = None,
) -> Page[DutyPublic]:
    query = select(ReportingDuty).where(service.duty_filter(principal))
    if plan_id is not None:
        query = query.where(col(ReportingDuty.plan_id) == plan_id)
    if reporter_level is not None:
        query = query.where(col(ReportingDuty.reporter_level) == reporter_level.value)
    if province is not None:
        query = query.where(col(ReportingDuty.province_code) == province)
    paged = page_of(session, query, page, col(ReportingDuty.id))
    return paged.page([service.public(duty) for duty in paged.rows])


@router.get("/{duty_id}", response_model=DutyPublic, summary="One reporting duty")
def get_duty(duty: ReadableDuty) -> DutyPublic:
    return service.public(duty)


@router.patch(
    "/{duty_id}",
    response_model=DutyPublic,
    summary="Change a duty's title, recipient or due days (reports sent stay as sent)",
)
def update_duty(duty: WritableDuty, payload: DutyUpdate, session: SessionDep) -> DutyPublic:
    return service.public(service.change(session, duty, payload))


@router.get(
    "/{duty_id}/periods",
    response_model=list[DutyPeriod],
    summary="The duty's periods with their due dates and statuses",
    description="`due` until the due date, `late` after it while unsent, `sent` or "
    "`sent_late` once sent, by Vietnam's calendar.",
)
def duty_periods(duty: ReadableDuty, session: SessionDep) -> list[DutyPeriod]:
    return service.period_list(session, duty)


@router.post(
    "/{duty_id}/reports",
    response_model=DutyReportPublic,
    status_code=201,
    summary="Send a period's report: the targets report as far as its last day, frozen",
    description="The figures are counted now and stored as sent; later changes to clubs, "
    "members or targets never change them. A period is sent once (409 after), once it has "
    "ended; if a service that counts the figures does not answer, nothing is sent (503).",
)
async def send_report(
    duty: WritableDuty,
    payload: ReportSend,
    request: Request,
    session: SessionDep,
    principal: Writer,
    idem: Idempotency,
) -> Any:
    period = await run_in_threadpool(service.to_send, session, duty, payload.period)
    targets, start, plan_id = await run_in_threadpool(service.subject, session, duty)
    heading = await run_in_threadpool(build.heading, session, plan_id, duty.programme_code)
    figures = report.Figures.asked_by(request, principal)
    found = await build.target_report(
        targets,
        start,
        period.end,
        figures,
        plan_id=plan_id,
        programme_code=duty.programme_code,
        heading=heading,
    )
    # An outage must not be frozen into a report as "not counted".
    if not figures.all_answered():
        raise ServiceUnavailable(
            "A service that counts the report's figures did not answer; nothing was sent.",
            code=Code.SERVICE_UNAVAILABLE,
        )

    def write() -> Any:
        sent = service.record(session, principal, duty, period, found)
        location = f"/api/v1/reporting-duties/{duty.id}/reports/{sent.id}"
        return idem.respond(session, service.report_public(sent), headers={"Location": location})

    return await run_in_threadpool(write)


@router.get(
    "/{duty_id}/reports/{report_id}",
    response_model=DutyReportPublic,
    responses=FILE_ANSWERS,
    summary="A report as it was sent (JSON, or XLSX / CSV headed in Vietnamese)",
)
def get_report(
    duty: ReadableDuty,
    report_id: IdPath,
    session: SessionDep,
    format: FileFormat = "json",
) -> DutyReportPublic | Response:
    found = service.report_public(service.sent_report(session, duty, report_id))
    if format == "json":
        return found
    sent = found.report
    data = export.to_xlsx(sent) if format == "xlsx" else export.to_csv(sent)
    return file_answer(data, format, f"reporting-duty-{duty.id}-{found.period}")
