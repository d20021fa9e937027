"""`/api/v1/indicators` (the catalogue) and the targets of plans and programme phases.

Everyone who reads the registry reads the catalogue and the phases' targets; a plan's targets
are read with the plan and written by those who write it, while it is a draft. Admins write
the phases' targets.
"""

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from common import clock
from common.auth import CurrentPrincipal, Principal, Role, require_roles
from common.db import SessionDep
from common.export import FILE_ANSWERS, FileFormat, file_answer
from common.idempotency import Idempotency
from common.problem_codes import Code
from common.problems import Forbidden, NotFound, invalid
from common.schemas import Id, IdPath, ReportDate
from services.funding.catalogue.models import Programme
from services.funding.plans import service as plans
from services.funding.plans.routes import ReadablePlan, WritablePlan
from services.funding.targets import build, export, national, report, service
from services.funding.targets.catalogue import DEFINITIONS, IndicatorDefinition
from services.funding.targets.models import Target
from services.funding.targets.schemas import (
    IndicatorPublic,
    NationalTargetReport,
    TargetIn,
    TargetPublic,
    TargetReport,
)

router = APIRouter(prefix="/api/v1", tags=["indicators and targets"])
ProgrammeCode = Annotated[str, Path(max_length=30)]
Admin = Annotated[Principal, Depends(require_roles(Role.ADMIN))]


def _indicator(definition: IndicatorDefinition) -> IndicatorPublic:
    return IndicatorPublic(
        code=definition.code,
        unit=definition.unit,
        counted=definition.counted,
        name_vi=definition.name_vi,
        name_en=definition.name_en,
        definition=definition.definition,
        numerator=definition.numerator,
        denominator=definition.denominator,
        parameter=definition.parameter,
        supplied_by=list(definition.supplied_by),
        levels=list(definition.levels),
    )


@router.get(
    "/indicators",
    response_model=list[IndicatorPublic],
    summary="The programme's indicators: what every target is written in",
)
def list_indicators(_principal: CurrentPrincipal) -> list[IndicatorPublic]:
    return [_indicator(definition) for definition in DEFINITIONS]


@router.get("/indicators/{code}", response_model=IndicatorPublic, summary="One indicator")
def get_indicator(
    code: Annotated[str, Path(max_length=60)], _principal: CurrentPrincipal
) -> IndicatorPublic:
    return _indicator(service.definition_of(code))


@router.get(
    "/plans/{plan_id}/targets",
    response_model=list[TargetPublic],
    summary="A plan version's targets",
)
def list_plan_targets(found: ReadablePlan, session: SessionDep) -> list[TargetPublic]:
    plan, _ = found
    return [service.public(t) for t in service.targets_of(session, plan_id=plan.id)]


@router.post(
    "/plans/{plan_id}/targets",
    response_model=TargetPublic,
    status_code=201,
    summary="Add a target to a draft plan (an area in the plan's province)",
)
def add_plan_target(
    plan: WritablePlan,
    payload: TargetIn,
    session: SessionDep,
    principal: CurrentPrincipal,
    idem: Idempotency,
) -> Any:
    plans.lock(session, plan)
    plans.refuse_approved(plan)
    service.check(payload, plans.series_of(session, plan).province_code)
    target = service.add(session, principal, payload, plan_id=plan.id)
    location = f"/api/v1/plans/{plan.id}/targets/{target.id}"
    return idem.respond(session, service.public(target), headers={"Location": location})


@router.get(
    "/plans/{plan_id}/targets/{target_id}",
    response_model=TargetPublic,
    summary="One target of a plan version",
)
def get_plan_target(found: ReadablePlan, target_id: IdPath, session: SessionDep) -> TargetPublic:
    plan, _ = found
    return service.public(_target(session, target_id, plan_id=plan.id))


@router.delete(
    "/plans/{plan_id}/targets/{target_id}",
    status_code=204,
    summary="Remove a target from a draft plan",
)
def remove_plan_target(plan: WritablePlan, target_id: IdPath, session: SessionDep) -> Response:
    plans.lock(session, plan)
    plans.refuse_approved(plan)
    session.delete(_target(session, target_id, plan_id=plan.id))
    return Response(status_code=204)


def _target(
    session: Session, target_id: int, *, plan_id: int | None = None, programme: str | None = None
) -> Target:
    target = session.get(Target, target_id)
    if target is None or target.plan_id != plan_id or target.programme_code != programme:
        raise NotFound(f"No target {target_id} here.")
    return target


def _programme(session: Session, code: str) -> Programme:
    programme = session.get(Programme, code)
    if programme is None:
        raise NotFound(f"No programme {code!r}.")
    return programme


def phase_in_force(session: Session, day: date) -> str:
    """The programme phase in force on `day`: of two that overlap (1336 ran to the end of
    2025, 1648 began in it), the one that began later."""
    phases = session.exec(
        select(Programme)
        .where(col(Programme.start_year) <= day.year, col(Programme.end_year) >= day.year)
        .order_by(col(Programme.start_year).desc())
    ).first()
    if phases is None:
        raise invalid(
            "on", f"no programme phase was in force in {day.year}", "query", code=Code.OUT_OF_RANGE
        )
    return phases.code


@router.get(
    "/programmes/{code}/targets",
    response_model=list[TargetPublic],
    summary="A programme phase's targets",
)
def list_programme_targets(
    code: ProgrammeCode, session: SessionDep, _principal: CurrentPrincipal
) -> list[TargetPublic]:
    _programme(session, code)
    return [service.public(t) for t in service.targets_of(session, programme_code=code)]


@router.post(
    "/programmes/{code}/targets",
    response_model=TargetPublic,
    status_code=201,
    summary="Add a target to a programme phase (admins)",
)
def add_programme_target(
    code: ProgrammeCode,
    payload: TargetIn,
    session: SessionDep,
    principal: Admin,
    idem: Idempotency,
) -> Any:
    _programme(session, code)
    service.check(payload, None)
    target = service.add(session, principal, payload, programme_code=code)
    location = f"/api/v1/programmes/{code}/targets/{target.id}"
    return idem.respond(session, service.public(target), headers={"Location": location})


@router.delete(
    "/programmes/{code}/targets/{target_id}",
    status_code=204,
    summary="Remove a programme phase's target (admins)",
)
def remove_programme_target(
    code: ProgrammeCode, target_id: IdPath, session: SessionDep, _principal: Admin
) -> Response:
    _programme(session, code)
    session.delete(_target(session, target_id, programme=code))
    return Response(status_code=204)


REPORTERS = frozenset({Role.ADMIN, Role.OFFICER, Role.SERVICE})
"""Who gets a plan's target report (the national office: the phases' too)."""


def _owner(
    session: Session, principal: Principal, plan_id: int | None, programme: str | None
) -> tuple[list[Target], date]:
    """The targets asked for and the day their plan or phase began (404/403 out of scope)."""
    if (plan_id is None) == (programme is None):
        raise invalid(
            "plan_id", "give a plan_id or a programme", "query", code=Code.MUTUALLY_EXCLUSIVE
        )
    if principal.role not in REPORTERS:
        raise Forbidden("Target reports are for admins and officers.", code=Code.ROLE_FORBIDDEN)
    if plan_id is not None:
        plan, series = plans.visible_plan(session, principal, plan_id)
        return list(service.targets_of(session, plan_id=plan.id)), date(series.start_year, 1, 1)
    if principal.role is Role.OFFICER:
        raise Forbidden(
            "A programme phase's report is the national office's.", code=Code.ROLE_FORBIDDEN
        )
    assert programme is not None
    phase = _programme(session, programme)
    return list(service.targets_of(session, programme_code=programme)), date(phase.start_year, 1, 1)


@router.get(
    "/reports/targets",
    response_model=TargetReport,
    responses=FILE_ANSWERS,
    summary="A plan's or a programme phase's targets beside what was done (JSON, XLSX, CSV)",
    description="For each target: the figure of its indicator over its area and period as far "
    "as `on` (today by default), `met` / `not_met`, the gap to its bounds, each year's figure "
    "for a target of each year, and the same figure one and two years before. An indicator no "
    "service counts yet for such an area is `not_counted` with the reason; a target whose period "
    "begins after `on` is `not_started`. `format=xlsx` (or `csv`): one row per target, headed "
    "in Vietnamese, as a provincial office files it.",
)
async def target_report(
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    plan_id: Annotated[Id | None, Query(description="A plan version.")] = None,
    programme: Annotated[
        str | None, Query(max_length=30, description="A programme phase's code.")
    ] = None,
    on: ReportDate | None = None,
    format: FileFormat = "json",
) -> TargetReport | Response:
    targets, start = await run_in_threadpool(_owner, session, principal, plan_id, programme)
    heading = await run_in_threadpool(build.heading, session, plan_id, programme)
    figures = report.Figures.asked_by(request, principal)
    found = await build.target_report(
        targets,
        start,
        on or clock.today(),
        figures,
        plan_id=plan_id,
        programme_code=programme,
        heading=heading,
    )
    if format == "json":
        return found
    data = export.to_xlsx(found) if format == "xlsx" else export.to_csv(found)
    owner = f"plan-{plan_id}" if plan_id is not None else f"programme-{programme}"
    return file_answer(data, format, f"targets-{owner}-{found.on.isoformat()}")


@router.get(
    "/reports/targets/national",
    response_model=NationalTargetReport,
    summary="A programme phase for the national office: its targets, the provinces' added up, "
    "the provinces by how far they are from theirs (admins)",
    description="The phase's own targets with their results as far as `on` (today by default); "
    "each count the provinces' current approved plans of the phase promise over a whole "
    "province, added up beside the phase's own minimum; and every province with such plans, "
    "with its targets met, not met and not counted, furthest from its targets first "
    "(`distance`: the mean gap as a share of the target's bound).",
)
async def national_target_report(
    request: Request,
    session: SessionDep,
    principal: Admin,
    programme: Annotated[
        str | None,
        Query(
            max_length=30,
            description="A programme phase's code; by default the phase in force on `on` (of "
            "two that overlap, the one that began later).",
        ),
    ] = None,
    on: ReportDate | None = None,
) -> NationalTargetReport:
    day = on or clock.today()
    if programme is None:
        programme = await run_in_threadpool(phase_in_force, session, day)
    phase_targets, start = await run_in_threadpool(_owner, session, principal, None, programme)
    plans_of_phase = await run_in_threadpool(national.province_plans, session, principal, programme)
    figures = report.Figures.asked_by(request, principal)
    return NationalTargetReport(
        programme_code=programme,
        on=day,
        programme=await report.results([(t, start) for t in phase_targets], day, figures),
        provinces_targets=national.added_up(plans_of_phase, phase_targets),
        provinces=await national.standings(plans_of_phase, day, figures),
    )
