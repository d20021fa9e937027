"""Reconciliation runs (admins): `POST /api/v1/reports/reconciliation-runs` queues a run of the
checks of the invariants that span the services, which the funding worker carries out; the
run's job answers what breaks. `python -m tools.reconcile` starts runs and prints them; CI runs
that after the integration tests and fails on any break."""

import asyncio

from fastapi import FastAPI
from sqlmodel import Session

from common.auth import Principal, Role
from common.clock import utcnow
from common.db import reader
from common.jobs import JobRun, job_router
from common.service_client import ServiceClient, ServiceTokens
from services.funding.indicators import routes as indicators
from services.funding.indicators.schemas import IndicatorReport
from services.funding.indicators.sources import IndicatorSources
from services.funding.models import jobs
from services.funding.reconciliation import checks
from services.funding.reconciliation.schemas import (
    CheckName,
    CheckResult,
    Reconciliation,
    ReconciliationJob,
    ReconciliationOrder,
)
from services.funding.settings import FundingSettings

RECONCILIATION_JOB = "reconciliation"
# A national ledger or bank book takes a while to stream; this is a batch job, not a page.
SERVICE_TIMEOUT_SECONDS = 300.0
# The province reports are asked a few at a time: the clubs and loans services answer in
# parallel, each on its own database.
REPORTS_AT_ONCE = 4

router = job_router(
    jobs=jobs,
    kind=RECONCILIATION_JOB,
    path="/api/v1/reports/reconciliation-runs",
    model=ReconciliationJob,
    parameters=ReconciliationOrder,
    noun="a reconciliation: the invariants across the services and what breaks (admins)",
    tags=["reports"],
)


def reconciliation_services(settings: FundingSettings, tokens: ServiceTokens) -> checks.Services:
    return checks.Services(
        clubs=ServiceClient("clubs", settings.clubs_url, tokens, SERVICE_TIMEOUT_SECONDS),
        loans=ServiceClient("loans", settings.loans_url, tokens, SERVICE_TIMEOUT_SECONDS),
    )


async def reconciliation_job(app: FastAPI, run: JobRun) -> Reconciliation:
    """Runs every check, or the ones asked for: allocations against the fund entries that
    recorded them, every fund's ledger, the members bank records are matched to, and the
    indicator totals against their parts. Each check says what it examined and lists its breaks
    (the objects, a reason); a service that does not answer is named in its `missing`. `ok` is
    true only when every check ran completely without a break."""
    order = ReconciliationOrder.model_validate(run.parameters)
    wanted = [name for name in CheckName if name in set(order.checks or CheckName)]
    # An admin asked for it; the worker asks the other services with its own token, whose
    # reach is the admin's.
    principal = Principal(subject=run.requested_by, role=Role.ADMIN)
    services: checks.Services = app.state.reconciliation_services
    sources: IndicatorSources = app.state.indicator_sources
    reports_at_once = asyncio.Semaphore(REPORTS_AT_ONCE)

    async def report(province: str | None) -> IndicatorReport:
        # The programme report exactly as an admin gets it from `/reports/indicators` for this
        # year; each in a session of its own, since several are asked at once.
        async with reports_at_once:
            with Session(reader(app.state.engine)) as own:
                return await indicators.report_this_year(own, principal, sources, province)

    results: list[CheckResult] = []
    for name in wanted:
        # A session per check, which only reads: the run's progress is written between them.
        with Session(reader(app.state.engine)) as session:
            if name is CheckName.ALLOCATIONS:
                results.append(await checks.allocations(session, services))
            elif name is CheckName.FUND_LEDGERS:
                results.append(await checks.fund_ledgers(services))
            elif name is CheckName.BANK_MATCHES:
                results.append(await checks.bank_matches(services))
            else:
                results.append(await checks.indicators(session, principal, services, report))
        await run.progress(len(results), len(wanted))
    return Reconciliation(
        checked_at=utcnow(), ok=all(result.ok for result in results), checks=results
    )
