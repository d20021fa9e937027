"""The clubs service's events: clubs registered and changing status, members joining, leaving."""

from common.events.catalogue import PERSONAL_DATA_KEY, EventType
from common.events.outbox import Event, Scope
from services.clubs.models import Club, Member


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


def member_joined(club: Club, member: Member) -> Event:
    data = {
        "member_id": member.id,
        "club_id": club.id,
        "province_code": club.province_code,
        "commune_code": club.commune_code,
        "joined_on": member.joined_on.isoformat(),
        # Only for the platform's own matching (the bank's records name borrowers by ID).
        PERSONAL_DATA_KEY: {"national_id": member.national_id},
    }
    return Event(EventType.MEMBER_JOINED, f"member:{member.id}", data, _scope(club))


def member_left(club: Club, member: Member, reason: str) -> Event:
    assert member.left_on is not None
    data = {
        "member_id": member.id,
        "club_id": club.id,
        "province_code": club.province_code,
        "commune_code": club.commune_code,
        "left_on": member.left_on.isoformat(),
        "reason": reason,
    }
    return Event(EventType.MEMBER_LEFT, f"member:{member.id}", data, _scope(club))
