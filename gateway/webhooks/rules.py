"""Who may receive which event: the same lines as the API's, applied to each event's scope."""

from collections.abc import Callable
from typing import Any

from common.auth import Principal, Role
from common.events.catalogue import PERSONAL_DATA_KEY, EventType
from common.events.consumer import FeedEvent
from common.scope import Kind, Place, may_see, readers
from gateway.models import ScopeColumns

E = EventType
KIND_OF: dict[EventType, Kind] = {
    E.CLUB_CREATED: Kind.CLUB,
    E.CLUB_STATUS_CHANGED: Kind.CLUB,
    E.CLUB_MEMBERSHIP_CHANGED: Kind.CLUB,
    E.ACTIVITY_RECORDED: Kind.CLUB,
    E.ACTIVITY_CHANGED: Kind.CLUB,
    E.MEMBER_JOINED: Kind.MEMBER,
    E.MEMBER_LEFT: Kind.MEMBER,
    E.MEMBER_CONSENT_CHANGED: Kind.MEMBER,
    E.MEMBER_ERASED: Kind.MEMBER,
    E.LOAN_DISBURSED: Kind.CLUB_MONEY,
    E.LOAN_REPAID: Kind.CLUB_MONEY,
    E.LOAN_OVERDUE: Kind.CLUB_MONEY,
    E.BANK_LOAN_POSTED: Kind.BANK_LOAN,
    E.BANK_LOAN_MATCH_CHANGED: Kind.BANK_LOAN,
    E.BANK_LOAN_RETRACTED: Kind.BANK_LOAN,
    E.BANK_LOAN_REINSTATED: Kind.BANK_LOAN,
    E.ALLOCATION_RECORDED: Kind.FLOW,
    E.COMMITMENT_RECORDED: Kind.FLOW,
    E.COMMITMENT_WITHDRAWN: Kind.FLOW,
    E.RECEIPT_RECORDED: Kind.FLOW,
    E.PLAN_APPROVED: Kind.PLAN,
}
"""The kind of object each event is about: who may receive it is who may read that object."""
SUBSCRIBERS = frozenset(role for role in Role if role is not Role.SERVICE)
"""Our own services follow the feeds; webhooks are for people's and partners' systems."""
SUBSCRIBABLE: dict[Role, frozenset[EventType]] = {
    role: frozenset(event for event, kind in KIND_OF.items() if role in readers(kind))
    for role in SUBSCRIBERS
}
"""Event types each role may subscribe to: what its routes let it read."""

FundedBy = Callable[[int, int], bool]
"""(funder id, club id) → has that funder's money reached that club."""


def may_receive(owner: ScopeColumns, event: FeedEvent, funded_by: FundedBy) -> bool:
    """Would the owner, with its role and scope as they are now, see this event's object?

    Partners read every club: a new club (`club.created`) is news to each of them (one they
    may fund), but they follow the other events of the clubs their funder's money reached
    only: the others' news is not theirs to follow."""
    if not owner.active:
        return False
    role = Role(owner.role)
    if event.type not in SUBSCRIBABLE.get(role, frozenset()):
        return False
    principal = Principal(
        subject="",
        role=role,
        provinces=tuple(owner.provinces),
        communes=tuple(owner.communes),
        clubs=tuple(owner.clubs),
        funder_id=owner.funder_id,
        bank_code=owner.bank_code,
    )
    facts = event.scope
    place = Place(
        province_code=facts.get("province_code"),
        commune_code=facts.get("commune_code"),
        club_id=facts.get("club_id"),
        funder_id=facts.get("funder_id"),
        bank_code=facts.get("bank_code"),
    )
    kind = KIND_OF[EventType(event.type)]
    if not may_see(principal, kind, place):
        return False
    if role is Role.PARTNER and kind is Kind.CLUB and event.type != E.CLUB_CREATED:
        club_id = facts.get("club_id")
        return (
            owner.funder_id is not None
            and club_id is not None
            and funded_by(owner.funder_id, club_id)
        )
    return True


def payload(event: FeedEvent, owner: ScopeColumns) -> dict[str, Any] | None:
    """What this subscriber receives: the event without the members' personal data, and of a
    bank posting only the counts of the officer's communes (None: nothing of it is theirs)."""
    data = {key: value for key, value in event.data.items() if key != PERSONAL_DATA_KEY}
    if event.type == E.BANK_LOAN_POSTED and Role(owner.role) is Role.OFFICER and owner.communes:
        communes = {
            code: counts for code, counts in data["communes"].items() if code in owner.communes
        }
        if not communes:
            return None
        data["communes"] = communes
        for outcome in ("created", "updated"):
            data[outcome] = sum(counts[outcome] for counts in communes.values())
    return {
        "id": event.id,
        "type": event.type,
        "subject": event.subject,
        "occurred_at": event.occurred_at,
        "data": data,
    }
