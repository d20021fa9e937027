"""The funding service: funders, programmes, province plans with their budget tables,
commitments, receipts, allocations to club funds, and the funded clubs."""

from fastapi import FastAPI

from common import places
from common.app import create_service_app
from common.club_directory import ClubDirectory
from common.events.feed import feed_router
from common.events.jetstream import outbox_relays
from common.events.retention import retention_worker
from common.jobs import job_worker
from common.service_client import ServiceClient, ServiceTokens
from services.funding.catalogue.routes import funders, programmes
from services.funding.duties.routes import router as duties_router
from services.funding.flows.routes import allocations, commitments, receipts
from services.funding.flows.transfer import Transfers, relay
from services.funding.indicators.routes import router as indicators_router
from services.funding.indicators.sources import IndicatorSources
from services.funding.models import idempotency_keys, jobs, outbox
from services.funding.plans.routes import router as plans_router
from services.funding.reconciliation.routes import (
    RECONCILIATION_JOB,
    reconciliation_job,
    reconciliation_services,
)
from services.funding.reconciliation.routes import router as reconciliation_router
from services.funding.reference.routes import router as reference_router
from services.funding.reports.funded_club import router as funded_club_router
from services.funding.reports.funded_clubs import router as funded_clubs_router
from services.funding.reports.iati import router as iati_router
from services.funding.settings import FundingSettings
from services.funding.targets.routes import router as targets_router
from services.funding.work.routes import router as work_router


def create_app(settings: FundingSettings | None = None) -> FastAPI:
    # The units targets are written on, read once here, not by the first request that needs them.
    places.communes()
    places.former_districts()
    settings = settings or FundingSettings()
    app = create_service_app(
        title="ISHC funding service",
        settings=settings,
        description=__doc__ or "",
        routers=[
            funders,
            programmes,
            reference_router,
            targets_router,
            plans_router,
            work_router,
            duties_router,
            commitments,
            receipts,
            allocations,
            funded_clubs_router,
            funded_club_router,
            iati_router,
            indicators_router,
            reconciliation_router,
            feed_router(outbox),
        ],
        idempotency_keys=idempotency_keys,
        workers=[
            *outbox_relays(settings, "funding", outbox),
            relay,
            retention_worker(outbox.prune),
            job_worker(jobs, {RECONCILIATION_JOB: reconciliation_job}),
        ],
    )
    tokens = ServiceTokens(settings.gateway_url, settings.client_id, settings.client_secret)
    app.state.service_tokens = tokens
    timeout = settings.upstream_timeout_seconds
    clubs = ServiceClient("clubs", settings.clubs_url, tokens, timeout)
    loans = ServiceClient("loans", settings.loans_url, tokens, timeout)
    app.state.club_directory = ClubDirectory(clubs)
    app.state.reconciliation_services = reconciliation_services(settings, tokens)
    app.state.indicator_sources = IndicatorSources(clubs, loans, settings.report_timeout_seconds)
    app.state.transfers = Transfers(
        app.state.engine,
        loans,
        settings.transfer_interval_seconds,
        settings.transfer_max_backoff_seconds,
    )
    return app
