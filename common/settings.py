"""Settings shared by every component, read only from environment variables.

Each component subclasses `ComponentSettings` with its own prefix (`CLUBS_`, `LOANS_`,
`FUNDING_`, `GATEWAY_`). Every field has a default that is safe on a developer's machine; in
production (`<PREFIX>ENVIRONMENT=production`) a start with a default secret is refused.
"""

from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from common import clock

DEV_SECRET_MARKER = "dev-only-"
"""Default secrets start with this; production refuses any secret that does."""

DEFAULT_GATEWAY_URL = "http://127.0.0.1:8000"
JWT_ISSUER = "ishc-gateway"
JWT_AUDIENCE = "ishc-api"


class InsecureSettingsError(RuntimeError):
    """A production start was attempted with a development default."""


class ComponentSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite:///var/ishc.db"
    jwt_issuer: str = JWT_ISSUER
    jwt_audience: str = JWT_AUDIENCE
    oidc_issuer: str = Field(default="", validation_alias=AliasChoices("ISHC_OIDC_ISSUER"))
    """An external OpenID Connect provider (Keycloak…) whose access tokens every component
    accepts besides the gateway's: its `iss`, exactly (one setting for the whole platform)."""
    oidc_jwks_url: str = Field(default="", validation_alias=AliasChoices("ISHC_OIDC_JWKS_URL"))
    """Where its signing keys are (Keycloak: `<issuer>/protocol/openid-connect/certs`)."""
    oidc_audience: str = Field(
        default=JWT_AUDIENCE, validation_alias=AliasChoices("ISHC_OIDC_AUDIENCE")
    )
    """The `aud` its tokens for this platform carry."""
    oidc_claim_prefix: str = Field(
        default="ishc_", validation_alias=AliasChoices("ISHC_OIDC_CLAIM_PREFIX")
    )
    """Its tokens carry our role and scope in claims with this prefix: `ishc_role`,
    `ishc_provinces`, `ishc_communes`, `ishc_clubs`, `ishc_funder_id`, `ishc_bank_code`."""
    max_body_bytes: int = 16 * 1024 * 1024
    event_retention_days: int = 30
    """Events (and the record of consumed ones) older than this are dropped hourly; 0 keeps all."""
    event_max_attempts: int = Field(default=5, ge=1)
    """Tries of an event another service's feed brought that fails to apply, before it is put
    aside as a dead letter for an admin to replay (`/api/v1/dead-letters`)."""
    log_level: str = "info"
    db_pool_size: int = Field(default=10, ge=1)
    """PostgreSQL connections a process keeps open (each web replica and worker has its own)."""
    db_max_overflow: int = Field(default=20, ge=0)
    """Connections it may open beyond the pool at a peak, closed again after."""
    db_pool_timeout_seconds: float = Field(default=30.0, gt=0)
    """How long a request waits for a free connection before it is answered 503."""
    db_connect_timeout_seconds: int = Field(default=3, ge=1)
    db_pgbouncer: bool = False
    """Connections go through PgBouncer in transaction mode: no server-side prepared
    statements (a statement prepared on one server connection is unknown on the next). The
    platform keeps no other session state between transactions (its settings are `SET
    LOCAL`, its locks transaction-scoped), except `common.migrate`, which must reach the
    database directly."""
    report_database_url: str = ""
    """A read replica for the reports (indicators, portfolio): the large reads leave the
    primary to the writes. Empty: the reports read the primary. A replica lags the primary by
    its replication delay, so a report may not count a change made a moment before."""
    log_format: Literal["text", "json"] = Field(
        default="text", validation_alias=AliasChoices("ISHC_LOG_FORMAT")
    )
    """`text` for a person at a terminal, `json` (one object a line) for production's log
    collector; one setting for the whole platform (docs/observability.md)."""
    event_transport: Literal["http", "jetstream"] = Field(
        default="http", validation_alias=AliasChoices("ISHC_EVENT_TRANSPORT")
    )
    """How events travel between the components: `http`, each service's feed read by the
    others (the embedded default); `jetstream`, each service's outbox relayed to NATS JetStream
    and read from there (docs/events-and-webhooks.md). One setting for the whole platform."""
    nats_url: str = Field(
        default="nats://127.0.0.1:4222", validation_alias=AliasChoices("ISHC_NATS_URL")
    )
    """The NATS server (with JetStream) that `jetstream` uses."""
    process: Literal["all", "web", "worker"] = "all"
    """What this process runs: `all` serves the API and does the background work (one process
    per component, as `make run` starts them); `web` serves the API only (production's replicas,
    any number); `worker` does the background work only (relays, consumers, webhooks,
    retention, scheduled jobs), with `/healthz`, `/readyz` and `/metrics` to probe
    (`python -m <component>.worker`; any number of copies share the work safely)."""

    @property
    def serves_api(self) -> bool:
        return self.process != "worker"

    @property
    def runs_workers(self) -> bool:
        return self.process != "web"

    def secret_fields(self) -> dict[str, str]:
        """The settings that must never keep their development default in production."""
        return {}

    def check_production(self) -> None:
        """Refuse to run with a business time zone that does not exist, and in production with
        a development secret or an embedded database."""
        clock.business_zone()
        if self.environment != "production":
            return
        weak = [
            name
            for name, value in self.secret_fields().items()
            if not value or value.startswith(DEV_SECRET_MARKER)
        ]
        if weak:
            raise InsecureSettingsError(
                f"production start refused: set real values for {', '.join(sorted(weak))}"
            )
        if self.database_url.startswith("sqlite"):
            raise InsecureSettingsError("production start refused: use PostgreSQL, not SQLite")


class ServiceSettings(ComponentSettings):
    """Settings of a domain service: where to find the gateway and its own credentials."""

    gateway_url: str = DEFAULT_GATEWAY_URL
    jwks_cache_seconds: int = 300
    report_statement_timeout_seconds: float = 10.0
    """Longest a report's statement may run on PostgreSQL (the gateway gives up at 10 s)."""
    event_poll_seconds: float = 0.5
    """How often a caught-up consumer asks another service's event feed for more."""
    event_idle_poll_seconds: float = 2.0
    """How often, at the least, while that feed has had nothing for it."""
    job_poll_seconds: float = Field(default=1.0, gt=0)
    """How often an idle worker looks for a job to carry out (`common.jobs`)."""
    job_lease_seconds: float = Field(default=60.0, gt=0)
    """How long a job stays with a worker that stopped renewing it before another takes it."""
    job_max_attempts: int = Field(default=3, ge=1)
    """Times a job is started (after an outage, or after its worker died) before it fails."""
    event_page_max_bytes: int = 1024 * 1024
    """A page of this service's event feed holds events up to this many bytes (and always at
    least one), besides the `limit` on their number."""


class CallingServiceSettings(ServiceSettings):
    """A service that calls the others' APIs, with its own client credentials (a service
    token from the gateway)."""

    client_id: str = ""
    client_secret: str = ""
    upstream_timeout_seconds: float = 10.0

    def secret_fields(self) -> dict[str, str]:
        return {"client_secret": self.client_secret}


class PersonalDataSettings(ComponentSettings):
    """A component that keeps citizen IDs or phone numbers: the keys that seal them at rest
    and the key of their blind index (see `common.sealing` and docs/personal-data.md)."""

    personal_data_keys: str = DEV_SECRET_MARKER + "personal-data-key"
    """`id:base64key[,id:base64key…]` (32-byte keys): every key listed opens stored values."""
    personal_data_key_id: str = ""
    """The key that seals new values (the first listed when empty)."""
    personal_data_index_key: str = DEV_SECRET_MARKER + "personal-data-index-key"
    """The blind index's key (32 bytes in base64): the same in the clubs and loans services."""

    def secret_fields(self) -> dict[str, str]:
        return {
            **super().secret_fields(),
            "personal_data_keys": self.personal_data_keys,
            "personal_data_index_key": self.personal_data_index_key,
        }
