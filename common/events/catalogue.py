"""The platform's event types: what each one announces and which service writes it."""

from enum import StrEnum
from typing import Any


class EventType(StrEnum):
    CLUB_CREATED = "club.created"
    CLUB_STATUS_CHANGED = "club.status_changed"
    MEMBER_JOINED = "member.joined"
    MEMBER_LEFT = "member.left"
    MEMBER_CONSENT_CHANGED = "member.consent_changed"
    MEMBER_ERASED = "member.erased"
    LOAN_DISBURSED = "loan.disbursed"
    LOAN_REPAID = "loan.repaid"
    LOAN_OVERDUE = "loan.overdue"
    CLUB_MEMBERSHIP_CHANGED = "club.membership_changed"
    ACTIVITY_RECORDED = "activity.recorded"
    ACTIVITY_CHANGED = "activity.changed"
    BANK_LOAN_POSTED = "bank_loan.posted"
    BANK_LOAN_MATCH_CHANGED = "bank_loan.match_changed"
    BANK_LOAN_RETRACTED = "bank_loan.retracted"
    BANK_LOAN_REINSTATED = "bank_loan.reinstated"
    ALLOCATION_RECORDED = "allocation.recorded"
    COMMITMENT_RECORDED = "commitment.recorded"
    COMMITMENT_WITHDRAWN = "commitment.withdrawn"
    RECEIPT_RECORDED = "receipt.recorded"
    PLAN_APPROVED = "plan.approved"


DESCRIPTIONS: dict[EventType, str] = {
    EventType.CLUB_CREATED: "A club was registered (clubs service).",
    EventType.CLUB_STATUS_CHANGED: "A club was activated, suspended or dissolved (clubs service).",
    EventType.MEMBER_JOINED: "A member was registered in a club (clubs service).",
    EventType.MEMBER_LEFT: "A member left their club (clubs service).",
    EventType.MEMBER_CONSENT_CHANGED: "A member gave or withdrew a consent (clubs service).",
    EventType.MEMBER_ERASED: "A member's personal data was erased, on request or after the "
    "retention period; ids, amounts and dates stay (clubs service).",
    EventType.LOAN_DISBURSED: "A member loan was paid out of the club's fund (loans service).",
    EventType.LOAN_REPAID: "A repayment was recorded on a member loan (loans service).",
    EventType.LOAN_OVERDUE: "A member loan's instalment fell due unpaid (loans service).",
    EventType.CLUB_MEMBERSHIP_CHANGED: "A club's membership counts after members joined, left, "
    "changed or were erased: total, women, older, younger, priority, volunteers, whether it "
    "meets its profile (clubs service).",
    EventType.ACTIVITY_RECORDED: "A club recorded an activity: its area, day and numbers, never "
    "its title or notes (clubs service).",
    EventType.ACTIVITY_CHANGED: "A club's activity was corrected or removed (`change`) (clubs "
    "service).",
    EventType.BANK_LOAN_POSTED: "The bank posted a new or changed loan record (loans service).",
    EventType.BANK_LOAN_MATCH_CHANGED: "Bank loan records were matched to a member after their "
    "posting, or unmatched (consent withdrawn, data erased) (loans service).",
    EventType.BANK_LOAN_RETRACTED: "The bank took back a record it posted by mistake: it is "
    "kept, unmatched, out of every figure (loans service).",
    EventType.BANK_LOAN_REINSTATED: "A retracted bank record was restored; it is matched again "
    "shortly (loans service).",
    EventType.ALLOCATION_RECORDED: "A funder's allocation reached the club's fund (funding).",
    EventType.COMMITMENT_RECORDED: "A funder's pledge to a plan line was recorded (funding).",
    EventType.COMMITMENT_WITHDRAWN: "A pledge made by mistake was withdrawn (funding).",
    EventType.RECEIPT_RECORDED: "Money from a funder was received for a plan line (funding).",
    EventType.PLAN_APPROVED: "A province's annual plan was approved (funding service).",
}

PERSONAL_DATA_KEY = "personal"
"""What the services match members by (a citizen ID's blind index, never the ID) travels only
under this key; webhooks never deliver it."""

IDENTIFYING = frozenset(
    {
        "full_name",
        "national_id",
        "phone",
        "birth_date",
        "birth_year",
        "board_role",
        "reason",
        "form_reference",
        "withdrawal_reference",
        "reference",
    }
)
"""What an audit snapshot or an event may hold that names or singles out a person (the
consents' references name the paper form the person signed): what a member's erasure empties."""
ERASABLE = IDENTIFYING | {PERSONAL_DATA_KEY}
"""The keys of an event's data that a member's erasure empties in the outbox that keeps it."""


def blanked(value: Any, names: frozenset[str] = ERASABLE) -> Any:
    """`value` with the values of the keys `names` emptied at any depth, the keys kept: an
    event keeps the shape its consumers and subscribers read."""
    if isinstance(value, dict):
        return {k: _emptied(v) if k in names else blanked(v, names) for k, v in value.items()}
    if isinstance(value, list):
        return [blanked(item, names) for item in value]
    return value


def _emptied(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: None for key in value}
    return "" if isinstance(value, str) else None
