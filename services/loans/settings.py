"""Loans service settings, from `LOANS_*` environment variables."""

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from common.settings import DEV_SECRET_MARKER, CallingServiceSettings, PersonalDataSettings


class LoansSettings(PersonalDataSettings, CallingServiceSettings):
    model_config = SettingsConfigDict(env_prefix="LOANS_", extra="ignore", frozen=True)

    database_url: str = "sqlite:///var/loans.db"
    client_id: str = "svc-loans"
    client_secret: str = DEV_SECRET_MARKER + "loans-secret"
    clubs_url: str = "http://127.0.0.1:8001"
    """The clubs service, asked directly (not through the gateway) for club facts."""
    overdue_scan_seconds: float = 3600.0
    """How often instalments that fell due unpaid are looked for and announced (0: never)."""
    matching_retry_seconds: float = Field(default=30.0, gt=0)
    """How often the loans stored while the clubs service could not answer are matched again."""
    portfolio_balances_seconds: float = Field(default=10.0, ge=0)
    """How often the portfolio's running balances of stale shards are rebuilt (0: never; the
    reports then compute every figure from the loans)."""
