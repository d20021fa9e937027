"""`GET /api/v1/reports/reconciliation` (admins only): checks the invariants that span the
services and answers what breaks. `python -m tools.reconcile` prints it; CI runs that after the
integration tests and fails on any break."""

import asyncio
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from sqlmodel import Session

from common.auth import CurrentPrincipal, Principal, Role, require_roles
from common.db import SessionDep
from common.service_client import ServiceClient, ServiceTokens
from services.funding.indicators import routes as indicator_routes
from services.funding.indicators.schemas import IndicatorReport
from services.funding.indicators.sources import IndicatorSources, IndicatorSourcesDep
from services.funding.reconciliation import checks
from services.funding.reconciliation.schemas import CheckName, Reconciliation
from services.funding.settings import FundingSettings

# A national ledger or bank book takes a while to stream; this is a batch job, not a page.
SERVICE_TIMEOUT_SECONDS = 300.0
# The province reports are asked a few at a time: the clubs and loans services answer in
# parallel, each on its own database.
REPORTS_AT_ONCE = 4

router = APIRouter(
    prefix="/api/v1/reports",
    tags=["reports"],
    dependencies=[Depends(require_roles(Role.ADMIN))],
)


def reconciliation_services(settings: FundingSettings, tokens: ServiceTokens) -> checks.Services:
    return checks.Services(
        clubs=ServiceClient("clubs", settings.clubs_url, tokens, SERVICE_TIMEOUT_SECONDS),
        loans=ServiceClient("loans", settings.loans_url, tokens, SERVICE_TIMEOUT_SECONDS),
    )


def _services(request: Request) -> checks.Services:
    services: checks.Services = request.app.state.reconciliation_services
    return services


async def _indicator_report(
    request: Request,
    session: Session,
    principal: Principal,
    sources: IndicatorSources,
    province: str | None,
) -> IndicatorReport:
    answer = await indicator_routes.indicators(
        request=request,
        session=session,
        principal=principal,
        sources=sources,
        province=province,
        funder_id=None,
        date_from=None,
        date_to=None,
        on=None,
        programme=None,
        format="json",
    )
    assert isinstance(answer, IndicatorReport)
    return answer


@router.get(
    "/reconciliation",
    response_model=Reconciliation,
    summary="Check the invariants across the services and list what breaks (admins)",
    description="Runs every check, or the ones named in `check`: allocations against the "
    "fund entries that recorded them, every fund's ledger, the members bank records are "
    "matched to, and the indicator totals against their parts. Each check says what it "
    "examined and lists its breaks (the objects, a reason); a service that does not answer "
    "is named in `missing`. `ok` is true only when every check ran completely without a "
    "break.",
)
async def reconciliation(
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    sources: IndicatorSourcesDep,
    services: Annotated[checks.Services, Depends(_services)],
    check: Annotated[
        list[CheckName] | None, Query(description="Only these checks (repeatable).")
    ] = None,
) -> Reconciliation:
    wanted = set(check or CheckName)
    reports_at_once = asyncio.Semaphore(REPORTS_AT_ONCE)

    async def report(province: str | None) -> IndicatorReport:
        # The programme report exactly as the admin gets it from `/reports/indicators`; each
        # in a session of its own, since several are asked at once.
        async with reports_at_once:
            with Session(request.app.state.engine) as own:
                return await _indicator_report(request, own, principal, sources, province)

    results = []
    if CheckName.ALLOCATIONS in wanted:
        results.append(await checks.allocations(session, services))
    if CheckName.FUND_LEDGERS in wanted:
        results.append(await checks.fund_ledgers(services))
    if CheckName.BANK_MATCHES in wanted:
        results.append(await checks.bank_matches(services))
    if CheckName.INDICATORS in wanted:
        results.append(await checks.indicators(session, principal, services, report))
    return Reconciliation(
        checked_at=datetime.now(UTC),
        ok=all(result.ok for result in results),
        checks=results,
    )
