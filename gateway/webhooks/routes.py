"""`/api/v1/webhooks`: a client's subscriptions, their delivery log, redelivery."""

import secrets
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlmodel import Session, col, select

from common import clock
from common.auth import CurrentPrincipal, Principal, require_roles
from common.clock import utcnow
from common.db import SessionDep
from common.events.catalogue import DESCRIPTIONS, EventType
from common.idempotency import Idempotency
from common.paging import page_of
from common.problem_codes import Code
from common.problems import NotFound, invalid
from common.schemas import IdPath, Page, PageDep
from gateway.webhooks.addresses import PrivateAddress, check_host
from gateway.webhooks.fanout import PENDING
from gateway.webhooks.models import WebhookBackfill, WebhookDelivery, WebhookSubscription
from gateway.webhooks.rules import SUBSCRIBABLE, SUBSCRIBERS
from gateway.webhooks.schemas import (
    DeliveryPublic,
    EventTypePublic,
    SubscriptionCreate,
    SubscriptionPublic,
    SubscriptionUpdate,
    SubscriptionWithSecret,
)

router = APIRouter(
    prefix="/api/v1/webhooks",
    tags=["webhooks"],
    dependencies=[Depends(require_roles(*SUBSCRIBERS))],
)


def _secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def _check_types(principal: Principal, event_types: list[EventType]) -> None:
    allowed = SUBSCRIBABLE.get(principal.role, frozenset())
    refused = [t.value for t in event_types if t not in allowed]
    if refused:
        raise invalid(
            "event_types",
            f"the role {principal.role.value} may not receive {', '.join(refused)}",
            code=Code.EVENT_TYPE_NOT_ALLOWED,
        )


def _check_url(request: Request, url: str) -> None:
    settings = request.app.state.settings
    if settings.webhook_require_https and not url.startswith("https://"):
        raise invalid("url", "must be an https address", code=Code.HTTPS_REQUIRED)
    if not settings.webhook_allow_private_addresses:
        try:
            check_host(url)
        except PrivateAddress as exc:
            reason = f"must be a public address ({exc})"
            raise invalid("url", reason, code=Code.PRIVATE_ADDRESS) from exc


def own_subscription(
    subscription_id: IdPath, session: SessionDep, principal: CurrentPrincipal
) -> WebhookSubscription:
    """The caller's subscription (admins: anyone's); 404 for others', as for none."""
    found = session.get(WebhookSubscription, subscription_id)
    if found is None or not (principal.is_admin or found.owner == principal.subject):
        raise NotFound(f"No webhook subscription {subscription_id}.")
    return found


OwnSubscription = Annotated[WebhookSubscription, Depends(own_subscription)]


@router.get(
    "/event-types",
    response_model=list[EventTypePublic],
    summary="The event types, and which of them the caller may subscribe to",
)
def event_types(principal: CurrentPrincipal) -> list[EventTypePublic]:
    allowed = SUBSCRIBABLE.get(principal.role, frozenset())
    return [
        EventTypePublic(type=t, description=DESCRIPTIONS[t], subscribable=t in allowed)
        for t in EventType
    ]


@router.post(
    "",
    response_model=SubscriptionWithSecret,
    status_code=201,
    summary="Subscribe a URL to event types; the signing secret is shown once",
    description="Events are posted as JSON with `Webhook-Id`, `Webhook-Timestamp` and "
    "`Webhook-Signature: v1=<hex HMAC-SHA256 of '<timestamp>.<body>'>`, only for objects the "
    "caller may read, never with members' personal data. Failed posts are retried with a "
    "growing pause.",
)
def subscribe(
    payload: SubscriptionCreate,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    idem: Idempotency,
) -> Any:
    _check_types(principal, payload.event_types)
    _check_url(request, payload.url)
    start = None if payload.backfill_from is None else clock.start_of(payload.backfill_from)
    subscription = WebhookSubscription(
        owner=principal.subject,
        url=payload.url,
        event_types=sorted({t.value for t in payload.event_types}),
        description=payload.description,
        secret=_secret(),
        backfill_from=start,
    )
    session.add(subscription)
    session.flush()
    if start is not None:
        assert subscription.id is not None
        services = request.app.state.settings.upstreams()
        session.add_all(
            WebhookBackfill(subscription_id=subscription.id, service=name) for name in services
        )
        session.flush()
        request.app.state.backfill_wake.set()
    answer = SubscriptionWithSecret(
        **public(session, subscription).model_dump(), secret=subscription.secret
    )
    return idem.respond(session, answer)


def public(session: Session, subscription: WebhookSubscription) -> SubscriptionPublic:
    """The subscription as its owner sees it, with whether its backfill is still reading."""
    reading = session.exec(
        select(WebhookBackfill.service).where(
            WebhookBackfill.subscription_id == subscription.id,
            WebhookBackfill.done == False,  # noqa: E712
        )
    ).first()
    answer = SubscriptionPublic.model_validate(subscription)
    answer.backfilling = reading is not None
    return answer


@router.get("", response_model=Page[SubscriptionPublic], summary="The caller's subscriptions")
def list_subscriptions(
    session: SessionDep, principal: CurrentPrincipal, page: PageDep
) -> Page[SubscriptionPublic]:
    filters = [] if principal.is_admin else [WebhookSubscription.owner == principal.subject]
    paged = page_of(
        session, select(WebhookSubscription).where(*filters), page, col(WebhookSubscription.id)
    )
    return paged.page([public(session, row) for row in paged.rows])


@router.get("/{subscription_id}", response_model=SubscriptionPublic, summary="One subscription")
def get_subscription(subscription: OwnSubscription, session: SessionDep) -> SubscriptionPublic:
    return public(session, subscription)


@router.patch(
    "/{subscription_id}",
    response_model=SubscriptionPublic,
    summary="Change a subscription's URL, event types or description, or pause it",
)
def update_subscription(
    subscription: OwnSubscription,
    payload: SubscriptionUpdate,
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> SubscriptionPublic:
    changes = payload.model_dump(exclude_unset=True)
    if payload.event_types is not None:
        _check_types(principal, payload.event_types)
        changes["event_types"] = sorted({t.value for t in payload.event_types})
    if payload.url is not None:
        _check_url(request, payload.url)
    for name, value in changes.items():
        setattr(subscription, name, value)
    subscription.updated_at = utcnow()
    session.add(subscription)
    if payload.active:
        request.app.state.webhook_sender.wake()
    return public(session, subscription)


@router.delete("/{subscription_id}", status_code=204, summary="Unsubscribe (and drop the log)")
def delete_subscription(subscription: OwnSubscription, session: SessionDep) -> Response:
    session.delete(subscription)
    return Response(status_code=204)


@router.post(
    "/{subscription_id}/secret",
    response_model=SubscriptionWithSecret,
    summary="Replace the signing secret (the old one stops at once); shown once",
)
def rotate_secret(subscription: OwnSubscription, session: SessionDep) -> SubscriptionWithSecret:
    subscription.secret = _secret()
    subscription.updated_at = utcnow()
    session.add(subscription)
    return SubscriptionWithSecret(
        **public(session, subscription).model_dump(), secret=subscription.secret
    )


@router.get(
    "/{subscription_id}/deliveries",
    response_model=Page[DeliveryPublic],
    summary="The delivery log: every event sent to this subscription and how it went",
)
def deliveries(
    subscription: OwnSubscription,
    session: SessionDep,
    page: PageDep,
    status: Annotated[Literal["pending", "delivered", "failed"] | None, Query()] = None,
    event_type: EventType | None = None,
) -> Page[DeliveryPublic]:
    filters: list[Any] = [WebhookDelivery.subscription_id == subscription.id]
    if status is not None:
        filters.append(WebhookDelivery.status == status)
    if event_type is not None:
        filters.append(WebhookDelivery.event_type == event_type.value)
    newest_first = col(WebhookDelivery.id).desc()
    paged = page_of(session, select(WebhookDelivery).where(*filters), page, newest_first)
    return paged.page([DeliveryPublic.model_validate(row) for row in paged.rows])


def _delivery(
    session: Session, subscription: WebhookSubscription, delivery_id: int
) -> WebhookDelivery:
    found = session.get(WebhookDelivery, delivery_id)
    if found is None or found.subscription_id != subscription.id:
        raise NotFound(f"No delivery {delivery_id} of this subscription.")
    return found


@router.post(
    "/{subscription_id}/deliveries/{delivery_id}/redeliver",
    response_model=DeliveryPublic,
    status_code=202,
    summary="Send a delivery again now (delivered or failed ones too), with a fresh signature",
)
def redeliver(
    subscription: OwnSubscription,
    delivery_id: IdPath,
    request: Request,
    session: SessionDep,
) -> WebhookDelivery:
    delivery = _delivery(session, subscription, delivery_id)
    delivery.status = PENDING
    delivery.attempts = 0
    delivery.next_attempt_at = utcnow()
    session.add(delivery)
    request.app.state.webhook_sender.wake()
    return delivery
