"""Clubs service settings, from `CLUBS_*` environment variables."""

from pydantic_settings import SettingsConfigDict

from common.settings import DEV_SECRET_MARKER, CallingServiceSettings, PersonalDataSettings


class ClubsSettings(PersonalDataSettings, CallingServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CLUBS_", extra="ignore", frozen=True)

    database_url: str = "sqlite:///var/clubs.db"
    client_id: str = "svc-clubs"
    client_secret: str = DEV_SECRET_MARKER + "clubs-secret"
    loans_url: str = "http://127.0.0.1:8002"
    """The loans service, asked directly whether a person about to be erased owes a loan."""
    member_retention_years: int = 10
    """Memberships that ended longer ago are erased (0: kept for good)."""
    member_retention_check_seconds: float = 86400.0
    """How often the retention job looks for them (0: never)."""
