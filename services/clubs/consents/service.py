"""Giving and withdrawing consent, audited and announced. Nothing here commits.

The consent to membership is the basis for keeping a member's record: a member is added with
it, and it is withdrawn only from a membership that has ended (erasure follows). Withdrawing
the consent to bank matching unlinks the bank's records from the member (the loans service
follows the event); giving it later lets them be matched.
"""

from collections.abc import Iterable
from typing import Any

from sqlmodel import Session, col, select

from common.clock import utcnow
from common.db import id_of
from common.problem_codes import Code
from common.problems import Conflict, NotFound, ValidationFailed, field_error
from services.clubs import audit, events
from services.clubs.audit import Actor
from services.clubs.consents.schemas import ConsentGiven, ConsentPublic, ConsentWithdrawal
from services.clubs.domain import ConsentPurpose
from services.clubs.models import Club, Consent, Member, outbox


def public(consent: Consent) -> ConsentPublic:
    return ConsentPublic(**consent.model_dump(), current=consent.withdrawn_on is None)


def consents_of(session: Session, member_id: int) -> list[Consent]:
    """Every consent of the member, current and withdrawn, in the order they were recorded."""
    query = select(Consent).where(Consent.member_id == member_id).order_by(col(Consent.id))
    return list(session.exec(query).all())


def consent_of(session: Session, member: Member, consent_id: int) -> Consent:
    consent = session.get(Consent, consent_id)
    if consent is None or consent.member_id != member.id:
        raise NotFound(f"Member {member.id} has no consent {consent_id}.")
    return consent


def facts(consent: Consent) -> dict[str, Any]:
    """What the audit keeps of a consent: its id, purpose, dates and references."""
    return {
        key: value.isoformat() if hasattr(value, "isoformat") else value
        for key, value in consent.model_dump(
            exclude={"member_id", "recorded_at", "withdrawn_at"}
        ).items()
        if value is not None
    }


def _club(session: Session, member: Member) -> Club:
    club = session.get(Club, member.club_id)
    assert club is not None  # the foreign key holds it
    return club


def record_given(
    session: Session, actor: Actor, member: Member, given: Iterable[ConsentGiven]
) -> list[Consent]:
    """Consents given by a member being added: audited and announced with the joining (the
    caller's), or by `give`."""
    added = [
        Consent(
            member_id=id_of(member),
            purpose=item.purpose.value,
            given_on=item.given_on,
            form_reference=item.form_reference,
            recorded_by=actor.principal.subject,
        )
        for item in given
    ]
    session.add_all(added)
    session.flush()
    return added


def give(session: Session, actor: Actor, member: Member, given: ConsentGiven) -> Consent:
    """A consent given after joining: 409 for a past membership or a consent already current."""
    if member.left_on is not None:
        raise Conflict(
            f"Member {member.id} left on {member.left_on.isoformat()}; a past membership "
            "takes no new consent.",
            code=Code.MEMBER_LEFT,
        )
    current = session.exec(
        select(Consent).where(
            Consent.member_id == member.id,
            Consent.purpose == given.purpose.value,
            col(Consent.withdrawn_on).is_(None),
        )
    ).first()
    if current is not None:
        raise Conflict(
            f"Member {member.id} already consents to {given.purpose.value} (consent "
            f"{current.id}, given on {current.given_on.isoformat()}).",
            code=Code.CONSENT_ALREADY_GIVEN,
            consent_id=current.id,
        )
    (consent,) = record_given(session, actor, member, [given])
    audit.record(session, actor, "member", id_of(member), "consent_given", None, facts(consent))
    outbox.emit(session, events.consent_changed(_club(session, member), member, consent))
    return consent


def withdraw(
    session: Session, actor: Actor, member: Member, consent: Consent, withdrawal: ConsentWithdrawal
) -> Consent:
    """Records the withdrawal: 409 if already withdrawn, or for the membership basis of a
    current member; 422 for a date before the consent was given."""
    if consent.withdrawn_on is not None:
        raise Conflict(
            f"Consent {consent.id} was withdrawn on {consent.withdrawn_on.isoformat()}.",
            code=Code.CONSENT_ALREADY_WITHDRAWN,
        )
    if consent.purpose == ConsentPurpose.MEMBERSHIP and member.left_on is None:
        raise Conflict(
            f"The consent to membership is the basis for keeping member {member.id}'s record: "
            f"record that the member left (POST /api/v1/members/{member.id}/leave) before "
            "withdrawing it.",
            code=Code.MEMBERSHIP_CONSENT_IN_USE,
        )
    if withdrawal.withdrawn_on < consent.given_on:
        reason = f"is before the consent was given ({consent.given_on.isoformat()})"
        raise ValidationFailed(
            f"withdrawn_on: {reason}",
            errors=[field_error("withdrawn_on", reason, code=Code.DATE_OUT_OF_ORDER)],
        )
    before = facts(consent)
    consent.withdrawn_on = withdrawal.withdrawn_on
    consent.withdrawal_reference = withdrawal.reference
    consent.withdrawn_by = actor.principal.subject
    consent.withdrawn_at = utcnow()
    session.add(consent)
    session.flush()
    audit.record(
        session, actor, "member", id_of(member), "consent_withdrawn", before, facts(consent)
    )
    outbox.emit(session, events.consent_changed(_club(session, member), member, consent))
    return consent
