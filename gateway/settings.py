"""Gateway settings, from `GATEWAY_*` variables (and `ISHC_ADMIN_*` for the first admin)."""

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from common.settings import DEV_SECRET_MARKER, ComponentSettings, InsecureSettingsError

CALLING_SERVICES = ("clubs", "loans", "funding")
"""The services that call the others' APIs, each with a client of its own."""
DEFAULT_SERVICE_CLIENTS = ",".join(
    f"svc-{name}:{DEV_SECRET_MARKER}{name}-secret" for name in CALLING_SERVICES
)


class GatewaySettings(ComponentSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", frozen=True)

    database_url: str = "sqlite:///var/gateway.db"
    keys_encryption_key: str = DEV_SECRET_MARKER + "gateway-keys-encryption-key"
    """What encrypts the signing keys' private halves in the database: `id:base64key` (32 bytes;
    a bare base64 key is id `main`), or several, `new:…,old:…`: the first encrypts new keys,
    every one listed decrypts (`gateway.keys`). Every replica and `common.migrate` need it."""
    keys_refresh_seconds: float = Field(default=10.0, gt=0, le=300)
    """How often a replica reads the signing keys again: a rotated key is published by every
    replica within this time (and signs a little after), a retired one is dropped within it."""
    clubs_url: str = "http://127.0.0.1:8001"
    loans_url: str = "http://127.0.0.1:8002"
    funding_url: str = "http://127.0.0.1:8003"
    connect_timeout_seconds: float = 2.0
    upstream_timeout_seconds: float = 10.0
    person_token_minutes: float = Field(default=15, gt=0)
    """An access token's life for a person (a fraction for tests: 0.1 is six seconds)."""
    client_token_minutes: int = 30
    public_url: str = ""
    """The gateway's address as clients reach it (`https://api.example.vn`), for the OAuth
    metadata; by default the address each request came to."""
    password_grant: bool = True
    """The legacy password grant, for first-party tools and tests; turn it off in production,
    where people log in through the login page (the authorization code with PKCE)."""
    authorization_code_seconds: int = Field(default=60, ge=5, le=600)
    refresh_token_idle_hours: float = Field(default=14 * 24, gt=0)
    """A refresh token not used for this long expires (a phone offline two weeks logs in again)."""
    refresh_token_absolute_days: float = Field(default=90, gt=0)
    """No refresh token lives longer after the login its family follows."""
    login_retention_days: int = 1
    """Expired codes, refresh tokens and login sessions are dropped this long after (hourly)."""
    login_session_hours: float = Field(default=12, gt=0)
    """How long the login page remembers a person who logged in (until they log out)."""
    login_free_failures: int = 5
    login_base_delay_seconds: int = 15
    login_max_delay_seconds: int = 900
    client_secret_overlap_hours: float = Field(default=48.0, ge=0)
    """How long a client's replaced secret still works: the bank's nightly run and a partner's
    scheduled pull keep working while their operators deploy the new one."""
    rate_limits: str = "admin:0,service:0,officer:600,club_manager:300,partner:300,bank:1200"
    """Fair use: calls a minute per token holder, by role (0: no limit), per replica."""
    standing_cache_seconds: float = Field(default=1.0, ge=0, le=10)
    """How long a replica trusts that a token's account is still enabled before asking the
    database again: a disabled account's tokens stop within this time on every replica."""
    event_poll_seconds: float = 0.5
    """How often the services' event feeds are asked for more (for the webhooks)."""
    event_idle_poll_seconds: float = 2.0
    """How often, at the least, while a feed has had nothing for the webhooks; a change
    forwarded to a service has its feed asked at once."""
    webhook_poll_seconds: float = 1.0
    webhook_timeout_seconds: float = 5.0
    webhook_retry_base_seconds: float = 10.0
    """The pause after a failed post; it doubles with each failure, up to the maximum."""
    webhook_retry_max_seconds: float = 3600.0
    webhook_max_attempts: int = 10
    webhook_require_https: bool = False
    """Refuse subscriptions to plain-http URLs (set in production)."""
    webhook_log_retention_days: int = 30
    access_log_retention_days: int = 1825
    """How long the log of who read members' personal data is kept (five years; 0: for good)."""
    """Delivered and failed deliveries older than this leave the log (hourly); 0 keeps all."""
    webhook_allow_private_addresses: bool = False
    """Allow posting to loopback and private addresses (development and tests only)."""
    cors_origins: str = ""
    """Web origins whose pages may call the API from a browser, exact and separated by commas
    (`https://dashboard.example.vn`); an origin not listed gets no CORS headers at all."""
    cors_local_origins: bool = False
    """Also allow `http://localhost:<any port>` and `http://127.0.0.1:<any port>` (development:
    `make run` sets it; refused in production)."""
    service_clients: str = DEFAULT_SERVICE_CLIENTS
    """Our own services' client credentials, `id:secret` separated by commas, kept in step."""
    admin_username: str = Field(
        default="admin",
        validation_alias=AliasChoices("ISHC_ADMIN_USERNAME", "GATEWAY_ADMIN_USERNAME"),
    )
    admin_password: str = Field(
        default="", validation_alias=AliasChoices("ISHC_ADMIN_PASSWORD", "GATEWAY_ADMIN_PASSWORD")
    )

    def upstreams(self) -> dict[str, str]:
        return {"clubs": self.clubs_url, "loans": self.loans_url, "funding": self.funding_url}

    def service_credentials(self) -> dict[str, str]:
        pairs = (item.split(":", 1) for item in self.service_clients.split(",") if ":" in item)
        return {client_id.strip(): secret.strip() for client_id, secret in pairs}

    def secret_fields(self) -> dict[str, str]:
        return {
            "keys_encryption_key": self.keys_encryption_key,
            **{
                f"service_clients[{cid}]": secret
                for cid, secret in self.service_credentials().items()
            },
        }

    def allowed_origins(self) -> list[str]:
        return [origin.strip() for origin in self.cors_origins.split(",") if origin.strip()]

    def check_production(self) -> None:
        super().check_production()
        if self.environment == "production" and self.cors_local_origins:
            raise InsecureSettingsError(
                "production start refused: cors_local_origins lets any local page call the API"
            )
