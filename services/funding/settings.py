"""Funding service settings, from `FUNDING_*` environment variables."""

from pydantic_settings import SettingsConfigDict

from common.settings import DEV_SECRET_MARKER, CallingServiceSettings


class FundingSettings(CallingServiceSettings):
    model_config = SettingsConfigDict(env_prefix="FUNDING_", extra="ignore", frozen=True)

    database_url: str = "sqlite:///var/funding.db"
    client_id: str = "svc-funding"
    client_secret: str = DEV_SECRET_MARKER + "funding-secret"
    clubs_url: str = "http://127.0.0.1:8001"
    """The clubs service, asked directly (not through the gateway) for clubs and provinces."""
    loans_url: str = "http://127.0.0.1:8002"
    """The loans service, which records allocations as capital in the clubs' funds."""
    transfer_interval_seconds: float = 5.0
    """How often pending and failed transfers to the loans service are looked at."""
    transfer_max_backoff_seconds: float = 300.0
    """A failed transfer is retried after 2, 4, 8 … seconds, never waiting longer than this."""
    report_timeout_seconds: float = 8.0
    """How long the programme report waits for the clubs and loans services' figures, from
    the moment it is asked; what has not come by then is named in `missing`. Keep it below the
    gateway's `GATEWAY_UPSTREAM_TIMEOUT_SECONDS`, or the caller gets a 504 instead."""
