"""Who may receive which event: the same lines as the API's, applied to each event's scope."""

from collections.abc import Callable
from typing import Any

from common.auth import Role
from common.events.catalogue import PERSONAL_DATA_KEY, EventType
from common.events.consumer import FeedEvent
from gateway.models import ScopeColumns

E = EventType
CLUB_EVENTS = frozenset({E.CLUB_CREATED, E.CLUB_STATUS_CHANGED})
MEMBER_EVENTS = frozenset({E.MEMBER_JOINED, E.MEMBER_LEFT})
LOAN_EVENTS = frozenset({E.LOAN_DISBURSED, E.LOAN_REPAID, E.LOAN_OVERDUE})
MONEY_EVENTS = frozenset({E.ALLOCATION_RECORDED, E.PLAN_APPROVED})

SUBSCRIBABLE: dict[Role, frozenset[EventType]] = {
    Role.ADMIN: frozenset(EventType),
    Role.OFFICER: frozenset(EventType),
    Role.CLUB_MANAGER: CLUB_EVENTS | MEMBER_EVENTS | LOAN_EVENTS,
    # Partners read clubs, plans and their own money, never members or their loans.
    Role.PARTNER: CLUB_EVENTS | MONEY_EVENTS,
    Role.BANK: frozenset({E.BANK_LOAN_POSTED}),
}
"""Event types each role may subscribe to: what its routes let it read."""

FundedBy = Callable[[int, int], bool]
"""(funder id, club id) → has that funder's money reached that club."""


def may_receive(owner: ScopeColumns, event: FeedEvent, funded_by: FundedBy) -> bool:
    """Would the owner, with its role and scope as they are now, see this event's object?"""
    if not owner.active:
        return False
    role = Role(owner.role)
    if event.type not in SUBSCRIBABLE.get(role, frozenset()):
        return False
    scope = event.scope
    if role is Role.ADMIN:
        return True
    if role is Role.OFFICER:
        in_province = scope.get("province_code") in owner.provinces
        commune = scope.get("commune_code")
        return in_province and (not owner.communes or commune is None or commune in owner.communes)
    if role is Role.CLUB_MANAGER:
        return scope.get("club_id") in owner.clubs
    if role is Role.PARTNER:
        return _partner_sees(owner.funder_id, event, funded_by)
    if role is Role.BANK:
        return scope.get("bank_code") == owner.bank_code
    return False


def _partner_sees(funder_id: int | None, event: FeedEvent, funded_by: FundedBy) -> bool:
    if funder_id is None:
        return False
    if event.type == E.PLAN_APPROVED:
        return True  # partners read every approved plan
    if event.type == E.ALLOCATION_RECORDED:
        return event.scope.get("funder_id") == funder_id
    club_id = event.scope.get("club_id")
    return club_id is not None and funded_by(funder_id, club_id)


def payload(event: FeedEvent, owner: ScopeColumns) -> dict[str, Any] | None:
    """What this subscriber receives: the event without the members' personal data, and of a
    bank posting only the loans in the officer's communes (None: nothing of it is theirs)."""
    data = {key: value for key, value in event.data.items() if key != PERSONAL_DATA_KEY}
    if event.type == E.BANK_LOAN_POSTED and Role(owner.role) is Role.OFFICER and owner.communes:
        loans = [item for item in data["loans"] if item["commune_code"] in owner.communes]
        if not loans:
            return None
        data["loans"] = loans
    return {
        "id": event.id,
        "type": event.type,
        "subject": event.subject,
        "occurred_at": event.occurred_at,
        "data": data,
    }
