"""The loans service: club revolving funds, member loans and the bank's loan records."""

from fastapi import FastAPI

from common.app import create_service_app
from common.service_client import ServiceClient, ServiceTokens
from services.loans.clubs import ClubDirectory
from services.loans.ledger.routes import router as funds_router
from services.loans.settings import LoansSettings


def create_app(settings: LoansSettings | None = None) -> FastAPI:
    settings = settings or LoansSettings()
    app = create_service_app(
        title="ISHC loans service",
        settings=settings,
        description=__doc__ or "",
        routers=[funds_router],
    )
    tokens = ServiceTokens(settings.gateway_url, settings.client_id, settings.client_secret)
    clubs = ServiceClient("clubs", settings.clubs_url, tokens, settings.upstream_timeout_seconds)
    app.state.club_directory = ClubDirectory(clubs)
    return app
