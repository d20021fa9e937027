"""The loans service: club revolving funds, member loans and the bank's loan records."""

from fastapi import FastAPI

from common.app import create_service_app
from services.loans.settings import LoansSettings


def create_app(settings: LoansSettings | None = None) -> FastAPI:
    return create_service_app(
        title="ISHC loans service",
        settings=settings or LoansSettings(),
        description=__doc__ or "",
        routers=[],
    )
