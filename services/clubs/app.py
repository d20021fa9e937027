"""The clubs service: the registry of clubs, members and locations."""

from fastapi import FastAPI

from common import places
from common.app import create_service_app
from common.events.feed import feed_router
from common.events.jetstream import outbox_relays
from common.events.retention import retention_worker
from common.jobs import job_worker
from common.service_client import ServiceClient, ServiceTokens
from services.clubs.activities.routes import router as activities_router
from services.clubs.consents.routes import router as consents_router
from services.clubs.indicators import router as indicators_router
from services.clubs.locations.routes import router as locations_router
from services.clubs.members.import_jobs import MEMBER_IMPORT, member_import_job
from services.clubs.members.retention import retention_worker as member_retention
from services.clubs.members.routes import router as members_router
from services.clubs.models import idempotency_keys, jobs, outbox
from services.clubs.quotas.composition import router as composition_router
from services.clubs.quotas.routes import router as quota_profiles_router
from services.clubs.reconciliation import router as reconciliation_router
from services.clubs.registry.routes import router as clubs_router
from services.clubs.settings import ClubsSettings


def create_app(settings: ClubsSettings | None = None) -> FastAPI:
    # The official lists are read once here, not by the first request that needs them.
    places.provinces()
    places.communes()
    places.former_districts_of()  # a club's place before the merger, on every save
    settings = settings or ClubsSettings()
    app = create_service_app(
        title="ISHC clubs service",
        settings=settings,
        description="Club registry: locations, clubs, members, board, quotas, activities.",
        # The fixed paths (/clubs/composition, /clubs/indicators) go before /clubs/{id}.
        routers=[
            reconciliation_router,
            locations_router,
            quota_profiles_router,
            composition_router,
            indicators_router,
            clubs_router,
            activities_router,
            members_router,
            consents_router,
            feed_router(outbox),
        ],
        idempotency_keys=idempotency_keys,
        workers=[
            *outbox_relays(settings, "clubs", outbox),
            retention_worker(outbox.prune),
            member_retention,
            job_worker(jobs, {MEMBER_IMPORT: member_import_job}),
        ],
    )
    tokens = ServiceTokens(settings.gateway_url, settings.client_id, settings.client_secret)
    app.state.service_tokens = tokens
    app.state.loans = ServiceClient(
        "loans", settings.loans_url, tokens, settings.upstream_timeout_seconds
    )
    return app
