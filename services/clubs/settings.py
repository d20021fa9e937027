"""Clubs service settings, from `CLUBS_*` environment variables."""

from pydantic_settings import SettingsConfigDict

from common.settings import PersonalDataSettings, ServiceSettings


class ClubsSettings(PersonalDataSettings, ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CLUBS_", extra="ignore", frozen=True)

    database_url: str = "sqlite:///var/clubs.db"
