"""The gateway follows every service's event feed, with a service token it signs itself."""

import time

from common.events.consumer import EventConsumer
from common.events.jetstream import source_feed
from common.service_client import ServiceClient
from gateway.identity import issue_token
from gateway.keys import KeyStore
from gateway.models import ApiClient
from gateway.settings import GatewaySettings
from gateway.webhooks.fanout import fan_out
from gateway.webhooks.models import consumer_tables

SUBJECT = "gateway:webhooks"
TOKEN_MINUTES = 30
REFRESH_MARGIN_SECONDS = 60


class GatewayTokens:
    """A service token for the gateway's own calls, signed with its current key."""

    def __init__(self, keys: KeyStore, settings: GatewaySettings) -> None:
        self.keys = keys
        self.settings = settings
        self._token: str | None = None
        self._expires_at = 0.0

    async def token(self) -> str:
        if self._token is None or time.monotonic() > self._expires_at - REFRESH_MARGIN_SECONDS:
            holder = ApiClient(client_id=SUBJECT, name=SUBJECT, role="service", secret_hash="")
            self._token, lifetime = issue_token(
                self.keys, self.settings, SUBJECT, holder, TOKEN_MINUTES
            )
            self._expires_at = time.monotonic() + lifetime
        return self._token

    def forget(self) -> None:
        self._token = None


def event_consumers(settings: GatewaySettings, keys: KeyStore) -> dict[str, EventConsumer]:
    """A consumer of each service's feed, by service."""
    tokens = GatewayTokens(keys, settings)
    return {
        service: EventConsumer(
            service,
            source_feed(
                settings,
                service,
                ServiceClient(service, url, tokens, settings.upstream_timeout_seconds),  # type: ignore[arg-type]
                reader="gateway",
            ),
            consumer_tables,
            {},
            # Every event, not only the types subscribed to when a page is asked for: a page
            # read with that list would skip the events of a subscription made meanwhile (its
            # first event lost), and member erasures that no subscription names.
            page_handler=fan_out,
            poll_seconds=settings.event_poll_seconds,
            idle_poll_seconds=settings.event_idle_poll_seconds,
            max_attempts=settings.event_max_attempts,
        )
        for service, url in settings.upstreams().items()
    }
