"""What the webhook endpoints take and give."""

import re
from datetime import datetime
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field

from common.events.catalogue import EventType
from common.problem_codes import Code
from common.problems import rule_error
from common.schemas import InputModel, OutputModel, PastDate, PatchModel

WEB_ADDRESS = re.compile(
    r"^https?://[A-Za-z0-9.:\[\]-]+(?:[/?#](?:[A-Za-z0-9._~:/?#\[\]@!$&'()*+,;=-]|%[0-9A-Fa-f]{2})*)?$"
)
"""What a sender can post to, as the API document states it: a URI (RFC 3986: the characters it
allows, others as `%XX`) whose host has letters, digits, dots and hyphens (an internationalised
one in its `xn--` form), with a port or an IP address in brackets."""


def _web_address(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise rule_error(Code.INVALID_URL, "an http or https address with a host")
    if parts.username or parts.password:
        reason = "no credentials in the address; check the signature instead"
        raise rule_error(Code.INVALID_URL, reason)
    if WEB_ADDRESS.fullmatch(url) is None:
        reason = (
            "a URI whose host has only letters, digits, dots and hyphens (write an "
            "internationalised host in its xn-- form, and characters a URI does not allow as "
            "%XX escapes)"
        )
        raise rule_error(Code.INVALID_URL, reason)
    return url


WebhookUrl = Annotated[
    str,
    Field(
        min_length=8,
        max_length=2000,
        json_schema_extra={
            "format": "uri",
            "pattern": WEB_ADDRESS.pattern,
        },
    ),
    AfterValidator(_web_address),
]
EventTypes = Annotated[
    list[EventType],
    Field(min_length=1, max_length=len(EventType), description="The event types to receive."),
]


class SubscriptionCreate(InputModel):
    url: WebhookUrl = Field(description="Where the events are posted (HTTPS in production).")
    event_types: EventTypes
    description: str = Field(default="", max_length=500)
    backfill_from: PastDate | None = Field(
        default=None,
        description="Also send the events that occurred from this day (Vietnam's calendar) "
        "until the subscription was made, as far back as the services keep their events (30 "
        "days by default). Nothing is sent until they are all found (`backfilling`); then "
        "every event goes out, each object's in the order they occurred.",
    )


class SubscriptionUpdate(PatchModel):
    url: WebhookUrl | None = None
    event_types: EventTypes | None = None
    description: str | None = Field(default=None, max_length=500)
    active: bool | None = Field(default=None, description="Paused subscriptions get nothing.")


class SubscriptionPublic(OutputModel):
    id: int
    owner: str = Field(description="The client or person whose scope decides what is sent.")
    url: str
    event_types: list[str]
    description: str
    active: bool
    backfill_from: datetime | None = Field(
        description="The moment from which past events were asked for (null: none)."
    )
    backfilling: bool = Field(
        default=False,
        description="The past events are still being read; deliveries wait until they are.",
    )
    created_at: datetime
    updated_at: datetime


class SubscriptionWithSecret(SubscriptionPublic):
    secret: str = Field(description="Signs every post (HMAC-SHA256); shown only now.")


class DeliveryPublic(OutputModel):
    id: int
    subscription_id: int
    event_id: str
    event_type: str
    subject: str
    occurred_at: datetime = Field(description="When the event occurred.")
    status: str = Field(description="pending, delivered, or failed (after the last attempt).")
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None = Field(description="What the receiver answered last.")
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime


class EventTypePublic(OutputModel):
    type: EventType
    description: str
    subscribable: bool = Field(description="Whether the caller's role may subscribe to it.")
