"""What the clubs service holds about a person: every membership (same citizen ID) the caller
may see, with its club, consents, meetings attended and audit trail.

The gateway puts it together with the loans service's part and its own access log to answer
`GET /api/v1/members/{member_id}/personal-data`, the person's right of access.
"""

from datetime import date

from sqlmodel import Session, col, select

from common.auth import Principal
from common.db import id_of
from common.schemas import OutputModel
from services.clubs.consents import service as consents
from services.clubs.consents.schemas import ConsentPublic
from services.clubs.members.erasure import person_of
from services.clubs.members.schemas import MemberPublic
from services.clubs.members.service import public
from services.clubs.models import AuditEntry, Club, Meeting, MeetingAttendance, Member
from services.clubs.registry.schemas import AuditEntryPublic
from services.clubs.scope import may_see


class ClubHeld(OutputModel):
    id: int
    code: str
    name: str
    province_code: str
    commune_code: str


class MeetingAttended(OutputModel):
    meeting_id: int
    held_on: date


class MembershipHeld(OutputModel):
    member: MemberPublic
    club: ClubHeld
    consents: list[ConsentPublic]
    meetings_attended: list[MeetingAttended]
    audit: list[AuditEntryPublic]


class ClubsHoldings(OutputModel):
    memberships: list[MembershipHeld]


def _meetings(session: Session, member_id: int) -> list[MeetingAttended]:
    rows = session.exec(
        select(col(Meeting.id), col(Meeting.held_on))
        .join(MeetingAttendance, col(MeetingAttendance.meeting_id) == col(Meeting.id))
        .where(MeetingAttendance.member_id == member_id)
        .order_by(col(Meeting.held_on))
    ).all()
    return [MeetingAttended(meeting_id=i, held_on=d) for i, d in rows if i is not None]


def _audit(session: Session, member_id: int) -> list[AuditEntryPublic]:
    rows = session.exec(
        select(AuditEntry)
        .where(AuditEntry.entity == "member", AuditEntry.entity_id == member_id)
        .order_by(col(AuditEntry.id))
    ).all()
    return [AuditEntryPublic.model_validate(row) for row in rows]


def _membership(session: Session, member: Member, club: Club) -> MembershipHeld:
    member_id = id_of(member)
    given = consents.consents_of(session, member_id)
    return MembershipHeld(
        member=public(member),
        club=ClubHeld.model_validate(club),
        consents=[consents.public(c) for c in given],
        meetings_attended=_meetings(session, member_id),
        audit=_audit(session, member_id),
    )


def holdings(session: Session, principal: Principal, member: Member) -> ClubsHoldings:
    held = []
    for membership in person_of(session, member):
        club = session.get(Club, membership.club_id)
        if club is not None and may_see(principal, club):
            held.append(_membership(session, membership, club))
    return ClubsHoldings(memberships=held)
