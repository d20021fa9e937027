"""Funding service settings, from `FUNDING_*` environment variables."""

from pydantic_settings import SettingsConfigDict

from common.settings import DEV_SECRET_MARKER, ServiceSettings


class FundingSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="FUNDING_", extra="ignore", frozen=True)

    database_url: str = "sqlite:///var/funding.db"
    client_id: str = "svc-funding"
    client_secret: str = DEV_SECRET_MARKER + "funding-secret"
