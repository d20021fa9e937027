"""Erasing a person's data: on their request, or by the retention job once they left long ago.

Erasure keeps what the programme's figures are made of and removes what identifies the
person. Kept: the membership's ids, club, gender, household status, joining and leaving days,
volunteering, meeting attendance and consents (purpose and days); money stays in the loans
service as it was. Removed: the name, citizen ID (and so its blind index), phone, birth date,
the board seat, the consents' form references, the same values in the audit trail's snapshots,
and the blind index and free-text reasons in events still in the outbox (emptied, so every
event keeps its shape). The birth is
generalised (`generalised_birth_key`) so that every count of older members on every date stays
as it was. The loans service follows `member.erased` and erases its own copies.

A person is every membership with the same citizen ID (or the one membership, without an ID):
they are erased together. Nothing here commits: the request (or the retention job) does, once.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from common import clock
from common.clock import utcnow
from common.db import id_of
from common.events.catalogue import IDENTIFYING, blanked
from common.problem_codes import Code
from common.problems import Conflict
from common.service_client import ServiceClient
from services.clubs import audit, events
from services.clubs.audit import Actor
from services.clubs.domain import age_threshold_key
from services.clubs.members.service import announce_membership
from services.clubs.models import AuditEntry, Club, Consent, Member, outbox
from services.clubs.quotas.rules import older_ages

OUTSTANDING = frozenset({"applied", "approved", "disbursed"})
"""Loan statuses that still bind the borrower to the club's fund."""
ERASED_ACTION = "erased"


@dataclass(frozen=True)
class Erasure:
    """Why and on whose request: the audit keeps it, the answer repeats it."""

    reason: str
    request_reference: str


def person_of(session: Session, member: Member) -> list[Member]:
    """Every membership of the member's person, oldest first."""
    if member.national_id_blind_index is None:
        return [member]
    query = (
        select(Member)
        .where(Member.national_id_blind_index == member.national_id_blind_index)
        .order_by(col(Member.joined_on), col(Member.id))
    )
    return list(session.exec(query).all())


async def outstanding_loans(
    loans: ServiceClient, member_ids: Sequence[int]
) -> dict[int, list[int]]:
    """The loans each member still owes or has pending, as the loans service says."""
    held = await loans.get_json(
        "/internal/personal-data", params=[("member_id", i) for i in member_ids]
    )
    owing: dict[int, list[int]] = {}
    for loan in held["loans"]:
        if loan["status"] in OUTSTANDING:
            owing.setdefault(loan["member_id"], []).append(loan["id"])
    return owing


def refuse_outstanding(owing: dict[int, list[int]]) -> None:
    if owing:
        loan_ids = sorted(i for ids in owing.values() for i in ids)
        raise Conflict(
            "The person has loans from the club's fund that are not settled (applied, approved "
            f"or being repaid): {', '.join(map(str, loan_ids))}. Erase them once they are "
            "repaid, rejected or written off.",
            code=Code.LOANS_OUTSTANDING,
            loan_ids=loan_ids,
        )


def generalised_birth_key(key: int, joined_on: date, left_on: date, ages: Iterable[int]) -> int:
    """A birth (as `birth_key`) that tells no more than every count needs.

    For each older-member age in use, the count on any day of the membership depends only on
    whether the member was that old on joining, not yet on leaving, or turned it in between
    (then on the very day: the key is kept). The latest key in that same class is returned,
    which is what the membership's dates and the ages say, not the person's birth.
    """
    lower: int | None = None  # the key must be greater than this
    upper: int | None = None  # and not greater than this
    for age in ages:
        first = age_threshold_key(joined_on.year, joined_on.month, joined_on.day, age)
        last = age_threshold_key(left_on.year, left_on.month, left_on.day, age)
        if key <= first:
            upper = first if upper is None else min(upper, first)
        elif key > last:
            lower = last if lower is None else max(lower, last)
        else:
            return key
    if upper is not None:
        return upper
    if lower is not None:
        return lower + 1  # only ever compared as an integer: any key above `lower` holds
    return key


def _without(value: Any, names: frozenset[str]) -> Any:
    """`value` with the keys `names` dropped at any depth (snapshots nest the consents)."""
    if isinstance(value, dict):
        return {k: _without(v, names) for k, v in value.items() if k not in names}
    if isinstance(value, list):
        return [_without(item, names) for item in value]
    return value


def _scrub_audit(session: Session, member_id: int) -> None:
    """The snapshots keep which fields changed and when, not the values that identify."""
    entries = session.exec(
        select(AuditEntry).where(AuditEntry.entity == "member", AuditEntry.entity_id == member_id)
    ).all()
    for entry in entries:
        entry.before = _without(entry.before, IDENTIFYING)
        entry.after = _without(entry.after, IDENTIFYING)
        session.add(entry)


def _scrub_outbox(session: Session, member_id: int) -> None:
    """Events not yet pruned lose the blind index and the free-text reasons."""
    table = outbox.table
    rows = session.execute(
        select(table.c.id, table.c.data).where(table.c.subject == f"member:{member_id}")
    ).all()
    for row_id, data in rows:
        kept = blanked(data)
        if kept != data:
            session.execute(update(table).where(table.c.id == row_id).values(data=kept))


def _end_membership(member: Member, today: date) -> None:
    if member.left_on is None:
        member.left_on = max(today, member.joined_on)


def _erase_one(
    session: Session, actor: Actor, member: Member, erasure: Erasure, ages: list[int]
) -> None:
    today = clock.today()
    club = session.get(Club, member.club_id)
    assert club is not None  # the foreign key holds it
    was_active = member.left_on is None
    before = audit.snapshot(member)
    _end_membership(member, today)
    assert member.left_on is not None
    key = generalised_birth_key(member.birth_key, member.joined_on, member.left_on, ages)
    member.full_name = ""
    member.national_id = member.phone = member.birth_date = member.board_role = None
    member.birth_key, member.birth_year = key, key // 10000
    member.erased_on, member.updated_at = today, utcnow()
    member.version += 1
    session.add(member)
    consents = list(session.exec(select(Consent).where(Consent.member_id == member.id)).all())
    for consent in consents:
        consent.form_reference = ""
        consent.withdrawal_reference = None if consent.withdrawal_reference is None else ""
        session.add(consent)
    member_id = id_of(member)
    _scrub_audit(session, member_id)
    _scrub_outbox(session, member_id)
    after = audit.snapshot(member)
    audit.record(
        session,
        actor,
        "member",
        member_id,
        ERASED_ACTION,
        _without(before, IDENTIFYING),
        {**after, "reason": erasure.reason, "request_reference": erasure.request_reference},
    )
    if was_active:
        outbox.emit(session, events.member_left(club, member, ""))
    outbox.emit(session, events.member_erased(club, member))
    if was_active:
        announce_membership(session, club)


def erase(session: Session, actor: Actor, person: Sequence[Member], erasure: Erasure) -> None:
    """Erases every membership of the person not erased yet; 409 if all of them were."""
    pending = [member for member in person if member.erased_on is None]
    if not pending:
        erased_on = person[0].erased_on
        assert erased_on is not None
        raise Conflict(
            f"The person's data was erased on {erased_on.isoformat()}.", code=Code.MEMBER_ERASED
        )
    ages = older_ages(session)
    for member in pending:
        _erase_one(session, actor, member, erasure, ages)


def due(session: Session, years: int, limit: int) -> list[int]:
    """Memberships that ended more than `years` ago and still hold personal data."""
    today = clock.today()
    try:
        cutoff = today.replace(year=today.year - years)
    except ValueError:  # 29 February
        cutoff = today.replace(year=today.year - years, day=28)
    query = (
        select(Member.id)
        .where(col(Member.left_on).is_not(None), col(Member.erased_on).is_(None))
        .where(col(Member.left_on) < cutoff)
        .order_by(col(Member.left_on), col(Member.id))
        .limit(limit)
    )
    return [member_id for member_id in session.exec(query).all() if member_id is not None]


def still_due(session: Session, member_id: int) -> Member | None:
    """The membership, locked, if nobody erased it meanwhile (two jobs may run at once)."""
    member = session.get(Member, member_id, with_for_update=True, populate_existing=True)
    if member is None or member.erased_on is not None:
        return None
    return member
