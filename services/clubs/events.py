"""The clubs service's events: clubs registered and changing status, their membership counts,
members joining, leaving, giving or withdrawing consent, and their personal data erased, and
activities recorded, corrected or removed."""

from common.events.catalogue import PERSONAL_DATA_KEY, EventType
from common.events.outbox import Event, Scope
from services.clubs.domain import ConsentPurpose
from services.clubs.models import Activity, Club, Consent, Member
from services.clubs.quotas.schemas import Composition


def _scope(club: Club) -> Scope:
    return Scope(province_code=club.province_code, commune_code=club.commune_code, club_id=club.id)


def _club_facts(club: Club) -> dict[str, object]:
    return {
        "club_id": club.id,
        "code": club.code,
        "name": club.name,
        "province_code": club.province_code,
        "commune_code": club.commune_code,
        "status": club.status,
    }


def club_created(club: Club) -> Event:
    return Event(EventType.CLUB_CREATED, f"club:{club.id}", _club_facts(club), _scope(club))


def club_status_changed(club: Club, before: str, reason: str) -> Event:
    data = {**_club_facts(club), "previous_status": before, "reason": reason}
    return Event(EventType.CLUB_STATUS_CHANGED, f"club:{club.id}", data, _scope(club))


def membership_changed(club: Club, composition: Composition) -> Event:
    """The club's membership counts after members joined, left, changed or were erased: what
    a funder follows of its clubs without reading a member."""
    data = {
        "club_id": club.id,
        "province_code": club.province_code,
        "commune_code": club.commune_code,
        "on": composition.on.isoformat(),
        **composition.counts.model_dump(),
        "compliant": composition.compliant,
    }
    return Event(EventType.CLUB_MEMBERSHIP_CHANGED, f"club:{club.id}", data, _scope(club))


def activity_changed(club: Club, activity: Activity, change: str) -> Event:
    """An activity recorded (`created`), corrected (`updated`) or removed (`deleted`). Never
    its title or notes: free text, which may name people."""
    kind = EventType.ACTIVITY_RECORDED if change == "created" else EventType.ACTIVITY_CHANGED
    data = {
        "activity_id": activity.id,
        "club_id": club.id,
        "province_code": club.province_code,
        "commune_code": club.commune_code,
        "change": change,
        "area": activity.area,
        "held_on": activity.held_on.isoformat(),
        "participants": activity.participants,
        "beneficiaries": activity.beneficiaries,
    }
    return Event(kind, f"activity:{activity.id}", data, _scope(club))


def _matching(member: Member, purposes: set[str]) -> dict[str, object]:
    """Only for the platform's own matching of the bank's records, which name borrowers by
    citizen ID: the ID's blind index, never the ID, and only with the member's consent to
    that matching. Webhooks leave this part out."""
    consented = ConsentPurpose.BANK_MATCHING in purposes
    index = member.national_id_blind_index if consented else None
    return {"national_id_blind_index": index}


def _membership(club: Club, member: Member) -> dict[str, object]:
    return {
        "member_id": member.id,
        "club_id": club.id,
        "province_code": club.province_code,
        "commune_code": club.commune_code,
    }


def member_joined(club: Club, member: Member, purposes: set[str]) -> Event:
    """`purposes`: those the member consented to on joining."""
    data = {
        **_membership(club, member),
        "joined_on": member.joined_on.isoformat(),
        "consents": sorted(purposes),
        PERSONAL_DATA_KEY: _matching(member, purposes),
    }
    return Event(EventType.MEMBER_JOINED, f"member:{member.id}", data, _scope(club))


def consent_changed(club: Club, member: Member, consent: Consent) -> Event:
    """A consent given (after joining) or withdrawn."""
    withdrawn = consent.withdrawn_on is not None
    data = {
        **_membership(club, member),
        "consent_id": consent.id,
        "purpose": consent.purpose,
        "change": "withdrawn" if withdrawn else "given",
        "on": (consent.withdrawn_on or consent.given_on).isoformat(),
        PERSONAL_DATA_KEY: _matching(member, set() if withdrawn else {consent.purpose}),
    }
    return Event(EventType.MEMBER_CONSENT_CHANGED, f"member:{member.id}", data, _scope(club))


def member_left(club: Club, member: Member, reason: str) -> Event:
    assert member.left_on is not None
    data = {
        **_membership(club, member),
        "left_on": member.left_on.isoformat(),
        "reason": reason,
    }
    return Event(EventType.MEMBER_LEFT, f"member:{member.id}", data, _scope(club))


def member_erased(club: Club, member: Member) -> Event:
    """Ids and the day only: what the other services need to erase their own copies."""
    assert member.erased_on is not None
    data = {
        **_membership(club, member),
        "on": member.erased_on.isoformat(),
    }
    return Event(EventType.MEMBER_ERASED, f"member:{member.id}", data, _scope(club))
