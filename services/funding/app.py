"""The funding service: funders, plans, commitments, receipts and allocations to clubs."""

from fastapi import FastAPI

from common.app import create_service_app
from services.funding.settings import FundingSettings


def create_app(settings: FundingSettings | None = None) -> FastAPI:
    return create_service_app(
        title="ISHC funding service",
        settings=settings or FundingSettings(),
        description=__doc__ or "",
        routers=[],
    )
