"""The loans service: club revolving funds, member loans and the bank's loan records."""

from fastapi import FastAPI

from common.app import create_service_app
from common.club_directory import ClubDirectory
from common.events.dead_letters import router as dead_letters_router
from common.events.feed import cursors_router, feed_router
from common.events.jetstream import outbox_relays
from common.events.retention import retention_worker
from common.jobs import job_worker
from common.service_client import ServiceClient, ServiceTokens
from services.loans.bank.matching import MATCHING_JOB, MemberLookup, matching_job, retry_matching
from services.loans.bank.routes import matching_runs
from services.loans.bank.routes import router as bank_loans_router
from services.loans.clubs import MemberDirectory
from services.loans.consumers import club_events, follow_clubs
from services.loans.ledger.routes import router as funds_router
from services.loans.lending.overdue import watch_overdue
from services.loans.lending.routes import router as loans_router
from services.loans.lending.rules_routes import router as loan_rules_router
from services.loans.models import consumer_tables, idempotency_keys, jobs, outbox
from services.loans.personal_data import router as personal_data_router
from services.loans.portfolio.balances import keep_balances
from services.loans.portfolio.indicators import router as indicators_router
from services.loans.portfolio.routes import router as portfolio_router
from services.loans.reconciliation import router as reconciliation_router
from services.loans.settings import LoansSettings


def create_app(settings: LoansSettings | None = None) -> FastAPI:
    settings = settings or LoansSettings()
    app = create_service_app(
        title="ISHC loans service",
        settings=settings,
        description=__doc__ or "",
        # The portfolio and the indicators come before `/loans/{loan_id}`, which would
        # otherwise claim their paths.
        routers=[
            reconciliation_router,
            funds_router,
            loan_rules_router,
            portfolio_router,
            indicators_router,
            loans_router,
            matching_runs,
            bank_loans_router,
            personal_data_router,
            feed_router(outbox),
            cursors_router(consumer_tables),
            dead_letters_router(consumer_tables),
        ],
        idempotency_keys=idempotency_keys,
        workers=[
            *outbox_relays(settings, "loans", outbox),
            follow_clubs,
            watch_overdue,
            retry_matching,
            keep_balances,
            job_worker(jobs, {MATCHING_JOB: matching_job}),
            retention_worker(outbox.prune, consumer_tables.prune),
        ],
    )
    tokens = ServiceTokens(settings.gateway_url, settings.client_id, settings.client_secret)
    app.state.service_tokens = tokens
    clubs = ServiceClient("clubs", settings.clubs_url, tokens, settings.upstream_timeout_seconds)
    app.state.club_directory = ClubDirectory(clubs)
    app.state.member_directory = MemberDirectory(clubs)
    app.state.member_lookup = MemberLookup(clubs)
    app.state.club_events = club_events(clubs, settings)
    app.state.event_consumers = {"clubs": app.state.club_events}
    return app
