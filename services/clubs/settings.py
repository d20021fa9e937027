"""Clubs service settings, from `CLUBS_*` environment variables."""

from pydantic_settings import SettingsConfigDict

from common.settings import DEV_SECRET_MARKER, ServiceSettings


class ClubsSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CLUBS_", extra="ignore", frozen=True)

    database_url: str = "sqlite:///var/clubs.db"
    client_id: str = "svc-clubs"
    client_secret: str = DEV_SECRET_MARKER + "clubs-secret"
