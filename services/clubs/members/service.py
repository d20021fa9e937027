"""The member rules that need the database, and every write to members (always audited).

Nothing here commits: the request (or the import command) commits once at the end, so a
membership and its audit entry exist together or not at all. The partial unique indexes on
`members` stay the last guard against a race the checks below cannot see.
"""

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import replace
from datetime import date
from enum import Enum
from typing import TYPE_CHECKING, Any, TypeVar

import orjson
from sqlalchemy import ColumnElement, Row, and_, exists, func, text, true
from sqlalchemy import select as core_select
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import Select

from common import clock
from common.auth import Principal
from common.db import id_of
from common.etag import claim_version
from common.paging import Paged, page_of_rows, sync_token
from common.problem_codes import Code
from common.problems import Conflict, FieldError, ValidationFailed, field_error
from common.schemas import PageParams
from common.sealing import blind_index
from common.text import fold
from services.clubs import audit, events
from services.clubs.audit import Actor
from services.clubs.consents import service as consents
from services.clubs.domain import BoardRole, ClubStatus, ConsentPurpose, birth_key
from services.clubs.members import rules
from services.clubs.members.schemas import (
    Board,
    BoardSeat,
    Leave,
    MemberCreate,
    MemberPublic,
    MemberSort,
    MemberUpdate,
)
from services.clubs.models import Club, Consent, Meeting, MeetingAttendance, Member, outbox
from services.clubs.quotas.composition import club_composition
from services.clubs.quotas.rules import active_on
from services.clubs.scope import may_see

if TYPE_CHECKING:
    from _typeshed import SupportsRichComparison

ROLE_ORDER = {role.value: index for index, role in enumerate(BoardRole)}


def public(member: Member) -> MemberPublic:
    return MemberPublic(**member.model_dump(), active=member.left_on is None)


def refused(errors: Sequence[FieldError]) -> ValidationFailed:
    summary = "; ".join(f"{error.field}: {error.reason}" for error in errors[:5])
    return ValidationFailed(f"Invalid member: {summary}", errors=list(errors))


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v.value if isinstance(v, Enum) else v for k, v in values.items()}


def _facts(values: dict[str, Any]) -> rules.MemberFacts:
    return rules.MemberFacts(
        gender=values["gender"],
        birth_date=values["birth_date"],
        birth_year=values["birth_year"],
        national_id=values["national_id"],
        joined_on=values["joined_on"],
    )


def _with_birth(values: dict[str, Any], facts: rules.MemberFacts) -> dict[str, Any]:
    """The stored birth columns: the year from the date when there is one, and the sort key."""
    year = rules.resolved_birth_year(facts)
    assert year is not None  # member_errors refuses a member with neither birth date nor year
    born = values["birth_date"]
    key = birth_key(year, born.month, born.day) if born else birth_key(year)
    return {**values, "birth_year": year, "birth_key": key}


def prepare(
    club: Club, payload: MemberCreate, today: date
) -> tuple[Member | None, list[FieldError]]:
    """A new membership row, or every rule across fields it breaks (nothing is written).

    The single POST and each row of an import go through here: one place for the rules.
    """
    values = _plain(payload.model_dump(exclude={"consents"}))
    values["joined_on"] = values["joined_on"] or today
    facts = _facts(values)
    errors = rules.member_errors(facts, today)
    if errors:
        return None, errors
    return Member(club_id=id_of(club), **_with_birth(values, facts)), []


def check_club_takes_members(club: Club) -> None:
    if club.status == ClubStatus.DISSOLVED:
        raise Conflict(
            f"Club {club.id} is dissolved; it takes no new members.", code=Code.CLUB_DISSOLVED
        )


def _by_index(national_ids: Iterable[str]) -> dict[str, str]:
    """These citizen IDs by their blind index, which is what the members table can compare."""
    return {blind_index(national_id): national_id for national_id in set(national_ids)}


def _in_batches(wanted: dict[str, str]) -> Iterator[list[str]]:
    """The blind indexes, sorted, in batches small enough for one `IN (…)` each."""
    indexes = sorted(wanted)
    for start in range(0, len(indexes), 500):
        yield indexes[start : start + 500]


_Found = TypeVar("_Found")


def _per_person(
    session: Session,
    national_ids: Iterable[str],
    except_id: int | None,
    query: Callable[[ColumnElement[bool]], Select[str | None, _Found | None]],
) -> dict[str, _Found]:
    """What `query` finds for each of these people, by national ID. `query` is given the
    condition on their memberships (other than `except_id`), a batch at a time, and selects
    each row's blind index and the value wanted."""
    found: dict[str, _Found] = {}
    wanted = _by_index(national_ids)
    for batch in _in_batches(wanted):
        theirs: ColumnElement[bool] = col(Member.national_id_blind_index).in_(batch)
        if except_id is not None:
            theirs = and_(theirs, col(Member.id) != except_id)
        found.update(
            (wanted[index], value)
            for index, value in session.exec(query(theirs)).all()
            if index is not None and value is not None
        )
    return found


def active_memberships(
    session: Session, national_ids: Iterable[str], except_id: int | None = None
) -> dict[str, Member]:
    """The current membership of each of these people, by national ID."""
    return _per_person(
        session,
        national_ids,
        except_id,
        lambda theirs: select(col(Member.national_id_blind_index), Member).where(
            theirs, col(Member.left_on).is_(None)
        ),
    )


_ACTIVE_BY_BLIND_INDEX = text("""
SELECT coalesce(json_agg(json_build_object(
    'national_id_blind_index', member.national_id_blind_index, 'member_id', member.id,
    'club_id', member.club_id,
    'province_code', club.province_code, 'commune_code', club.commune_code
)), '[]')::text
FROM unnest(string_to_array(:indexes, ' ')) AS wanted(blind_index)
CROSS JOIN LATERAL (
    SELECT id, national_id_blind_index, club_id FROM members
    WHERE national_id_blind_index = wanted.blind_index AND left_on IS NULL AND EXISTS (
        SELECT 1 FROM member_consents AS consent WHERE consent.member_id = members.id
        AND consent.purpose = :matching AND consent.withdrawn_on IS NULL
    )
    LIMIT 1
) AS member
JOIN clubs AS club ON club.id = member.club_id
WHERE club.status <> :dissolved
""")
"""One probe of the partial unique index of active members' IDs per ID, whatever the
statistics say: with `… = ANY(…)` the planner read every member and filtered them, a cost that
grows with the registry. `LIMIT 1` (at most one active membership per person) keeps the probes
from being turned into a join; the consent is probed inside it, once per member found
(outside, the planner hashed every current consent of the registry for each lookup). The
indexes travel as one string, split on spaces, which base64url never holds: psycopg builds a
10,000-element array parameter slowly, in Python. The answer is made as JSON by PostgreSQL,
not as dictionaries encoded by the service.
Figures: docs/benchmarks.md."""


def lookup_active(session: Session, indexes: Sequence[str]) -> list[dict[str, Any]]:
    """The active memberships (not left, club not dissolved) of the people with these blind
    indexes who consent to matching with the bank's records, in one query served by the index
    of active members' IDs, as `ActiveMembership` items without `national_id`."""
    wanted = sorted(set(indexes))
    matching = ConsentPurpose.BANK_MATCHING.value
    if session.get_bind().dialect.name == "postgresql":
        parameters = {
            "indexes": " ".join(wanted),
            "dissolved": ClubStatus.DISSOLVED.value,
            "matching": matching,
        }
        answer: str = session.execute(_ACTIVE_BY_BLIND_INDEX, parameters).scalar_one()
        found: list[dict[str, Any]] = orjson.loads(answer)
        return found
    # SQLAlchemy's own `select`: SQLModel's is typed for at most four columns.
    rows = session.execute(
        core_select(
            col(Member.national_id_blind_index),
            col(Member.id),
            col(Member.club_id),
            col(Club.province_code),
            col(Club.commune_code),
        )
        .join(Club, col(Club.id) == col(Member.club_id))
        .where(
            col(Member.national_id_blind_index).in_(wanted),
            col(Member.left_on).is_(None),
            col(Club.status) != ClubStatus.DISSOLVED.value,
            exists().where(
                col(Consent.member_id) == col(Member.id),
                col(Consent.purpose) == matching,
                col(Consent.withdrawn_on).is_(None),
            ),
        )
    )
    return [
        {
            "national_id_blind_index": index,
            "member_id": member_id,
            "club_id": club_id,
            "province_code": province_code,
            "commune_code": commune_code,
        }
        for index, member_id, club_id, province_code, commune_code in rows
    ]


def already_active_reason(session: Session, principal: Principal, club: Club, other: Member) -> str:
    """Why a person cannot join: the other membership is named only to those who may see it."""
    if other.club_id == club.id:
        return f"is already an active member of this club (member {other.id})"
    other_club = session.get(Club, other.club_id)
    if other_club is not None and may_see(principal, other_club):
        return (
            f"is already an active member of another club (club {other_club.id}, member {other.id})"
        )
    return "is already an active member of another club"


def last_ended_memberships(
    session: Session, national_ids: Iterable[str], except_id: int | None = None
) -> dict[str, date]:
    """When each of these people last left a club (a new membership may not start earlier)."""
    return _per_person(
        session,
        national_ids,
        except_id,
        lambda theirs: (
            select(col(Member.national_id_blind_index), func.max(col(Member.left_on)))
            .where(theirs, col(Member.left_on).is_not(None))
            .group_by(col(Member.national_id_blind_index))
        ),
    )


def overlap_reason(joined_on: date, last_left_on: date | None) -> str | None:
    if last_left_on is not None and joined_on < last_left_on:
        return (
            f"is before {last_left_on.isoformat()}, when this person's previous membership "
            "ended; memberships of one person may not overlap"
        )
    return None


def current_chair(session: Session, club_id: int, except_id: int | None = None) -> int | None:
    query = select(col(Member.id)).where(
        col(Member.club_id) == club_id,
        col(Member.left_on).is_(None),
        col(Member.board_role) == BoardRole.CHAIR.value,
    )
    if except_id is not None:
        query = query.where(col(Member.id) != except_id)
    return session.exec(query).first()


def second_chair_conflict(chair_id: int) -> Conflict:
    return Conflict(
        f"The club already has a chair: member {chair_id}. Change that member's board_role "
        "(or let them leave) first.",
        code=Code.SECOND_CHAIR,
        chair_member_id=chair_id,
    )


def _check_person(
    session: Session,
    actor: Actor,
    club: Club,
    national_id: str | None,
    joined_on: date,
    except_id: int | None,
) -> None:
    """The same person is not active twice, and memberships of one person do not overlap."""
    if national_id is None:
        return
    other = active_memberships(session, [national_id], except_id).get(national_id)
    if other is not None:
        raise Conflict(
            f"This person {already_active_reason(session, actor.principal, club, other)}.",
            code=Code.ALREADY_MEMBER,
        )
    last_left = last_ended_memberships(session, [national_id], except_id).get(national_id)
    reason = overlap_reason(joined_on, last_left)
    if reason is not None:
        raise refused([field_error("joined_on", reason, code=Code.MEMBERSHIP_OVERLAP)])


def _check_chair(
    session: Session, club_id: int, board_role: str | None, except_id: int | None
) -> None:
    if board_role == BoardRole.CHAIR:
        chair_id = current_chair(session, club_id, except_id)
        if chair_id is not None:
            raise second_chair_conflict(chair_id)


def add_member(session: Session, actor: Actor, club: Club, payload: MemberCreate) -> Member:
    """A new membership: 422 for bad data, 409 for a closed club, a second chair, a person who
    is already an active member."""
    check_club_takes_members(club)
    member, errors = prepare(club, payload, clock.today())
    if member is None:
        raise refused(errors)
    _check_person(session, actor, club, member.national_id, member.joined_on, None)
    _check_chair(session, id_of(club), member.board_role, None)
    session.add(member)
    session.flush()
    given = consents.record_given(session, actor, member, payload.consents)
    audit.record(
        session,
        actor,
        "member",
        id_of(member),
        "created",
        None,
        {**audit.snapshot(member), "consents": [consents.facts(c) for c in given]},
    )
    purposes = {consent.purpose.value for consent in payload.consents}
    outbox.emit(session, events.member_joined(club, member, purposes))
    announce_membership(session, club)
    return member


COUNTED_FIELDS = frozenset(
    {"gender", "birth_date", "birth_year", "household_status", "home_care_volunteer", "joined_on"}
)
"""The member's fields the club's counts read (`quotas.rules.counts_by_club`): a change to
another (a phone, a board role) changes no count and announces none."""


def announce_membership(session: Session, club: Club) -> None:
    """`club.membership_changed`: the club's counts as the transaction leaves them."""
    session.flush()
    composition = club_composition(session, club, clock.today())
    outbox.emit(session, events.membership_changed(club, composition))


def _merged(member: Member, changes: dict[str, Any]) -> dict[str, Any]:
    values = {**member.model_dump(), **changes}
    if "birth_date" in changes and "birth_year" not in changes:
        # A new date brings its year; clearing the date keeps the year that was known.
        new_date = changes["birth_date"]
        values["birth_year"] = new_date.year if new_date else member.birth_year
    return values


def update_member(
    session: Session,
    actor: Actor,
    club: Club,
    member: Member,
    payload: MemberUpdate,
    if_match: str | None,
) -> Member:
    """Changes a current membership; the merged result must keep every rule a new one keeps."""
    if member.left_on is not None:
        raise Conflict(
            f"Member {member.id} left on {member.left_on.isoformat()}; a past membership is "
            "history and is not changed.",
            code=Code.MEMBER_LEFT,
        )
    changes = _plain(payload.model_dump(exclude_unset=True))
    values = _merged(member, changes)
    facts = _facts(values)
    errors = rules.member_errors(facts, clock.today())
    if errors:
        raise refused(errors)
    values = _with_birth(values, facts)
    if {"national_id", "joined_on"} & changes.keys():
        _check_person(session, actor, club, values["national_id"], values["joined_on"], member.id)
        _check_attendance(session, member, values["joined_on"], member.left_on, "joined_on")
    if "board_role" in changes:
        _check_chair(session, id_of(club), values["board_role"], member.id)
    before = audit.snapshot(member)
    claim_version(session, member, if_match)
    for name in (*changes, "birth_year", "birth_key"):
        setattr(member, name, values[name])
    audit.save(session, actor, member, "member", "updated", before, audit.snapshot(member))
    if COUNTED_FIELDS & changes.keys():
        announce_membership(session, club)
    return member


def attendance_outside(
    session: Session, member_id: int, joined_on: date, left_on: date | None
) -> date | None:
    """A meeting the member attended outside [joined_on, left_on), if there is one."""
    held_on = col(Meeting.held_on)
    outside = held_on < joined_on
    if left_on is not None:
        outside = outside | (held_on >= left_on)
    return session.exec(
        select(held_on)
        .join(MeetingAttendance, col(MeetingAttendance.meeting_id) == col(Meeting.id))
        .where(col(MeetingAttendance.member_id) == member_id, outside)
        .order_by(held_on)
    ).first()


def _check_attendance(
    session: Session, member: Member, joined_on: date, left_on: date | None, field: str
) -> None:
    attended = attendance_outside(session, id_of(member), joined_on, left_on)
    if attended is not None:
        raise refused(
            [
                field_error(
                    field,
                    f"the member attended the meeting of {attended.isoformat()}, which would fall "
                    "outside the membership",
                    code=Code.ATTENDANCE_OUTSIDE_MEMBERSHIP,
                )
            ]
        )


def leave(
    session: Session, actor: Actor, member: Member, payload: Leave, if_match: str | None
) -> Member:
    """Ends a membership and keeps the record; a re-join is a new membership."""
    if member.left_on is not None:
        raise Conflict(
            f"Member {member.id} already left on {member.left_on.isoformat()}.",
            code=Code.MEMBER_LEFT,
        )
    errors = rules.leave_errors(member.joined_on, payload.left_on, clock.today())
    if errors:
        raise refused(errors)
    _check_attendance(session, member, member.joined_on, payload.left_on, "left_on")
    claim_version(session, member, if_match)
    member.left_on = payload.left_on
    after = {"left_on": payload.left_on.isoformat(), "reason": payload.reason}
    audit.save(session, actor, member, "member", "left", {"left_on": None}, after)
    club = session.get(Club, member.club_id)
    assert club is not None
    outbox.emit(session, events.member_left(club, member, payload.reason))
    announce_membership(session, club)
    return member


def membership_filter(on: date | None, include_left: bool) -> ColumnElement[bool]:
    """Members on a date (today by default), or every membership ever with `include_left`."""
    if include_left:
        return true()
    return active_on(on or clock.today())


IdAndName = Row[int | None, str]
"""A member's id and full name, as `find_members` sorts them."""


def _sort_key(sort: MemberSort) -> "Callable[[IdAndName], SupportsRichComparison]":
    if sort.lstrip("-") == "given_name":
        # Vietnamese lists order by the given name, the last word of the full name.
        return lambda row: (fold(row.full_name.rsplit(" ", 1)[-1]), fold(row.full_name), row.id)
    if sort.lstrip("-") == "name":
        return lambda row: (fold(row.full_name), row.full_name, row.id)
    return lambda row: row.id


def find_members(
    session: Session,
    conditions: list[ColumnElement[bool]],
    q: str | None,
    sort: MemberSort,
    page: PageParams,
) -> Paged:
    """One page of a club's members and the total.

    Names are matched and sorted without diacritics, which neither SQLite nor PostgreSQL does
    alike; so ids and names of the matching rows (one club: at most a few thousand) are sorted
    here and only the page is loaded.
    """
    token = sync_token(session, page)
    # Rows, whose columns are read by name (SQLModel's `exec` types them as plain tuples).
    pairs: Sequence[IdAndName] = session.execute(
        core_select(col(Member.id), col(Member.full_name)).where(*conditions)
    ).all()
    if q:
        folded = fold(q)
        pairs = [row for row in pairs if folded in fold(row.full_name)]
    chosen = page_of_rows(
        list(pairs), page, f"member {sort.lstrip('-')}", _sort_key(sort), lambda row: row.id,
        descending=sort.startswith("-"), token=token,
    )  # fmt: skip
    ids = [row.id for row in chosen.rows]
    rows = {m.id: m for m in session.exec(select(Member).where(col(Member.id).in_(ids))).all()}
    return replace(chosen, rows=[rows[i] for i in ids])


def _seat_order(seat: tuple[str, Member]) -> tuple[int, str, int | None]:
    role, member = seat
    return ROLE_ORDER.get(role, len(ROLE_ORDER)), fold(member.full_name), member.id


def board(session: Session, club: Club, on: date) -> Board:
    members = session.exec(
        select(Member).where(col(Member.club_id) == club.id, active_on(on))
    ).all()
    # (role, member) of the members with a seat on the board.
    seats = sorted(((m.board_role, m) for m in members if m.board_role), key=_seat_order)
    home_care = sum(m.home_care_volunteer for m in members)
    income = sum(m.income_generation_volunteer for m in members)
    checks = rules.board_checks(
        [rules.Seat(id_of(m), role) for role, m in seats], home_care, income
    )
    return Board(
        club_id=club.id,
        on=on,
        seats=[
            BoardSeat(
                member_id=m.id,
                full_name=m.full_name,
                board_role=role,
                home_care_volunteer=m.home_care_volunteer,
                income_generation_volunteer=m.income_generation_volunteer,
            )
            for role, m in seats
        ],
        size=len(seats),
        home_care_volunteers=home_care,
        income_generation_volunteers=income,
        compliant=all(check.passed for check in checks),
        checks=checks,
        failures=[check.reason for check in checks if not check.passed],
    )
