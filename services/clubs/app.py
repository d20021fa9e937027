"""The clubs service: the registry of clubs, members and locations."""

from fastapi import FastAPI

from common.app import create_service_app
from services.clubs.locations.routes import router as locations_router
from services.clubs.settings import ClubsSettings


def create_app(settings: ClubsSettings | None = None) -> FastAPI:
    return create_service_app(
        title="ISHC clubs service",
        settings=settings or ClubsSettings(),
        description="Club registry: locations, clubs, members, board, quotas, activities.",
        routers=[locations_router],
    )
