"""The activity and meeting rules that need the database, every write (audited), and coverage.

Nothing here commits: the request commits once at the end, so a record, its attendance and its
audit entry exist together or not at all.
"""

from collections.abc import Sequence
from datetime import date
from functools import partial
from typing import Any

from sqlalchemy import ColumnElement, SQLColumnExpression, delete, func, update
from sqlmodel import Session, col, select

from common.db import id_of
from common.paging import Paged, Synced, page_of
from common.problem_codes import Code
from common.problems import Conflict, NotFound
from common.schemas import Page, PageParams
from common.sync import Token
from services.clubs import audit, events
from services.clubs.activities import rules
from services.clubs.activities.schemas import (
    ActivityCreate,
    ActivityPublic,
    ActivityUpdate,
    AreaCoverage,
    Coverage,
    MeetingCreate,
    MeetingPublic,
    MeetingUpdate,
)
from services.clubs.audit import Actor
from services.clubs.domain import ActivityArea
from services.clubs.models import (
    Activity,
    Club,
    Meeting,
    MeetingAttendance,
    Member,
    outbox,
    sync_log,
)
from services.clubs.quotas.rules import active_on

ACTIVITIES = "activities"
"""The collection name of deleted activities' tombstones (`common.sync`)."""


def lock_club(session: Session, club: Club) -> None:
    """Takes the club's write lock for this transaction and re-reads the club under it.

    Writes of one club's activities and meetings then run one after the other, so "one meeting
    a day" and "nothing new once dissolved" hold against concurrent requests. An UPDATE that
    changes nothing is the one lock both databases share: a row lock on PostgreSQL (FOR NO KEY
    UPDATE, so inserts that only reference the club stay unblocked), the database's write lock
    on SQLite, which ignores SELECT ... FOR UPDATE and would let two checks pass at once.
    """
    session.exec(
        update(Club)
        .where(col(Club.id) == club.id)
        .values(status=Club.status)
        .execution_options(synchronize_session=False)
    )
    session.refresh(club)


def period_filter(
    column: SQLColumnExpression[date], start: date | None, end: date | None
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if start is not None:
        conditions.append(column >= start)
    if end is not None:
        conditions.append(column <= end)
    return conditions


# Activities


def activity_public(activity: Activity) -> ActivityPublic:
    return ActivityPublic.model_validate(activity)


def add_activity(session: Session, actor: Actor, club: Club, payload: ActivityCreate) -> Activity:
    """A new activity: 409 for a dissolved club, 422 for a date before the club's founding."""
    lock_club(session, club)
    rules.check_takes_new_records(club)
    rules.check_after_founding(club, payload.held_on)
    activity = Activity(club_id=id_of(club), **payload.model_dump())
    session.add(activity)
    session.flush()
    audit.record(
        session, actor, "activity", id_of(activity), "created", None, audit.snapshot(activity)
    )
    outbox.emit(session, events.activity_changed(club, activity, "created"))
    return activity


def find_activity(session: Session, club: Club, activity_id: int) -> Activity:
    activity = session.get(Activity, activity_id)
    if activity is None or activity.club_id != club.id:
        raise NotFound(f"No activity {activity_id} in club {club.id}.")
    return activity


def update_activity(
    session: Session, actor: Actor, club: Club, activity: Activity, payload: ActivityUpdate
) -> Activity:
    """Corrects an activity; a record of a dissolved club may still be corrected."""
    changes = payload.model_dump(exclude_unset=True)
    if "held_on" in changes:
        rules.check_after_founding(club, changes["held_on"])
    before = audit.snapshot(activity)
    for name, value in changes.items():
        setattr(activity, name, value)
    audit.save(session, actor, activity, "activity", "updated", before, audit.snapshot(activity))
    outbox.emit(session, events.activity_changed(club, activity, "updated"))
    return activity


def delete_activity(session: Session, actor: Actor, club: Club, activity: Activity) -> None:
    """Removes an activity recorded by mistake; the audit keeps what it was."""
    audit.record(
        session, actor, "activity", id_of(activity), "deleted", audit.snapshot(activity), None
    )
    outbox.emit(session, events.activity_changed(club, activity, "deleted"))
    session.delete(activity)
    sync_log.tombstone(session, ACTIVITIES, id_of(activity), activity.club_id)


def find_activities(
    session: Session,
    club: Club,
    start: date | None,
    end: date | None,
    area: ActivityArea | None,
    page: PageParams,
    since: Token | None = None,
) -> Paged:
    """One page of the club's activities, newest first, and the total."""
    conditions = [
        col(Activity.club_id) == club.id,
        *period_filter(col(Activity.held_on), start, end),
    ]
    if area is not None:
        conditions.append(col(Activity.area) == area.value)
    removed = partial(sync_log.removed, collection=ACTIVITIES, club_id=id_of(club))
    return page_of(
        session,
        select(Activity).where(*conditions),
        page,
        col(Activity.held_on).desc(),
        col(Activity.id).desc(),
        synced=Synced(col(Activity.sync_stamp), since, removed),
    )


# Meetings


def attendance_of(session: Session, meeting_ids: Sequence[int]) -> dict[int, list[int]]:
    """The attending member ids of each meeting, ascending (one query for a whole page)."""
    attending: dict[int, list[int]] = {meeting_id: [] for meeting_id in meeting_ids}
    if not meeting_ids:
        return attending
    rows = session.exec(
        select(col(MeetingAttendance.meeting_id), col(MeetingAttendance.member_id))
        .where(col(MeetingAttendance.meeting_id).in_(meeting_ids))
        .order_by(col(MeetingAttendance.meeting_id), col(MeetingAttendance.member_id))
    ).all()
    for meeting_id, member_id in rows:
        attending[meeting_id].append(member_id)
    return attending


def meeting_public(meeting: Meeting, member_ids: list[int]) -> MeetingPublic:
    return MeetingPublic(
        **meeting.model_dump(), attendance=len(member_ids), attending_member_ids=member_ids
    )


def _check_attendance(session: Session, club: Club, member_ids: list[int], on: date) -> None:
    """Every attending member was an active member of this club on the meeting's day (422)."""
    if not member_ids:
        return
    found = session.exec(
        select(col(Member.id)).where(
            col(Member.id).in_(member_ids), col(Member.club_id) == club.id, active_on(on)
        )
    ).all()
    active = [member_id for member_id in found if member_id is not None]
    rules.not_active_members(member_ids, active, on)


def _check_one_a_day(session: Session, club: Club, on: date, except_id: int | None) -> None:
    conditions = [col(Meeting.club_id) == club.id, col(Meeting.held_on) == on]
    if except_id is not None:
        conditions.append(col(Meeting.id) != except_id)
    other = session.exec(select(col(Meeting.id)).where(*conditions)).first()
    if other is not None:
        raise Conflict(
            f"Club {club.id} already has meeting {other} on {on.isoformat()}; "
            "a club meets at most once a day.",
            code=Code.MEETING_SAME_DAY,
            meeting_id=other,
        )


def _check_meeting(
    session: Session,
    club: Club,
    held_on: date,
    member_ids: list[int],
    health_checks: int,
    except_id: int | None,
) -> None:
    """The rules every version of a meeting keeps; 422 for bad data before 409 for a clash."""
    rules.check_after_founding(club, held_on)
    rules.check_health_checks(health_checks, len(member_ids))
    _check_attendance(session, club, member_ids, held_on)
    _check_one_a_day(session, club, held_on, except_id)


def _meeting_snapshot(meeting: Meeting, member_ids: list[int]) -> dict[str, Any]:
    return {**audit.snapshot(meeting), "attending_member_ids": member_ids}


def _set_attendance(session: Session, meeting_id: int, old: list[int], new: list[int]) -> None:
    gone, came = set(old) - set(new), set(new) - set(old)
    if gone:
        session.exec(
            delete(MeetingAttendance).where(
                col(MeetingAttendance.meeting_id) == meeting_id,
                col(MeetingAttendance.member_id).in_(gone),
            )
        )
    session.add_all(
        MeetingAttendance(meeting_id=meeting_id, member_id=member_id) for member_id in sorted(came)
    )


def add_meeting(
    session: Session, actor: Actor, club: Club, payload: MeetingCreate
) -> MeetingPublic:
    """A new meeting: 409 for a dissolved club or a second meeting that day, 422 for bad data."""
    lock_club(session, club)
    rules.check_takes_new_records(club)
    member_ids = sorted(payload.attending_member_ids)
    _check_meeting(session, club, payload.held_on, member_ids, payload.health_checks, None)
    meeting = Meeting(club_id=id_of(club), **payload.model_dump(exclude={"attending_member_ids"}))
    session.add(meeting)
    session.flush()
    meeting_id = id_of(meeting)
    _set_attendance(session, meeting_id, [], member_ids)
    after = _meeting_snapshot(meeting, member_ids)
    audit.record(session, actor, "meeting", meeting_id, "created", None, after)
    return meeting_public(meeting, member_ids)


def find_meeting(session: Session, club: Club, meeting_id: int) -> Meeting:
    meeting = session.get(Meeting, meeting_id)
    if meeting is None or meeting.club_id != club.id:
        raise NotFound(f"No meeting {meeting_id} in club {club.id}.")
    return meeting


def read_meeting(session: Session, club: Club, meeting_id: int) -> MeetingPublic:
    meeting = find_meeting(session, club, meeting_id)
    return meeting_public(meeting, attendance_of(session, [meeting_id])[meeting_id])


def update_meeting(
    session: Session, actor: Actor, club: Club, meeting: Meeting, payload: MeetingUpdate
) -> MeetingPublic:
    """Corrects a meeting; the whole meeting as changed must keep every rule again."""
    lock_club(session, club)
    changes = payload.model_dump(exclude_unset=True)
    meeting_id = id_of(meeting)
    old_ids = attendance_of(session, [meeting_id])[meeting_id]
    new_ids = sorted(changes.pop("attending_member_ids", old_ids))
    held_on = changes.get("held_on", meeting.held_on)
    health_checks = changes.get("health_checks", meeting.health_checks)
    _check_meeting(session, club, held_on, new_ids, health_checks, meeting_id)
    before = _meeting_snapshot(meeting, old_ids)
    for name, value in changes.items():
        setattr(meeting, name, value)
    _set_attendance(session, meeting_id, old_ids, new_ids)
    after = _meeting_snapshot(meeting, new_ids)
    audit.save(session, actor, meeting, "meeting", "updated", before, after)
    return meeting_public(meeting, new_ids)


def find_meetings(
    session: Session,
    club: Club,
    start: date | None,
    end: date | None,
    page: PageParams,
    since: Token | None = None,
) -> Page[MeetingPublic]:
    """One page of the club's meetings, newest first, with their attendance, and the total."""
    conditions = [col(Meeting.club_id) == club.id, *period_filter(col(Meeting.held_on), start, end)]
    paged = page_of(
        session,
        select(Meeting).where(*conditions),
        page,
        col(Meeting.held_on).desc(),
        col(Meeting.id).desc(),
        synced=Synced(col(Meeting.sync_stamp), since),
    )
    attending = attendance_of(session, [id_of(meeting) for meeting in paged.rows])
    return paged.page([meeting_public(m, attending[id_of(m)]) for m in paged.rows])


# Coverage


def _area_tallies(
    session: Session, club: Club, start: date, end: date
) -> dict[ActivityArea, rules.AreaTally]:
    rows = session.exec(
        select(
            col(Activity.area),
            func.count(),
            func.coalesce(func.sum(col(Activity.participants)), 0),
            func.coalesce(func.sum(col(Activity.beneficiaries)), 0),
        )
        .where(col(Activity.club_id) == club.id, *period_filter(col(Activity.held_on), start, end))
        .group_by(col(Activity.area))
    ).all()
    return {
        ActivityArea(area): rules.AreaTally(int(count), int(participants), int(beneficiaries))
        for area, count, participants, beneficiaries in rows
    }


def coverage(session: Session, club: Club, start: date, end: date) -> Coverage:
    """The eight areas with their activities in the period, the verdict, and the meetings."""
    tallies = _area_tallies(session, club, start, end)
    missing = rules.missing_areas(tallies)
    meeting_days = session.exec(
        select(col(Meeting.held_on)).where(
            col(Meeting.club_id) == club.id, *period_filter(col(Meeting.held_on), start, end)
        )
    ).all()
    areas = []
    for area in ActivityArea:
        tally = tallies.get(area, rules.NO_ACTIVITY)
        areas.append(
            AreaCoverage(
                area=area,
                activities=tally.activities,
                participants=tally.participants,
                beneficiaries=tally.beneficiaries,
            )
        )
    return Coverage(
        club_id=club.id,
        period_from=start,
        period_to=end,
        areas=areas,
        areas_covered=len(ActivityArea) - len(missing),
        missing_areas=missing,
        runs_all_eight=not missing,
        meetings_held=len(meeting_days),
        months_with_meeting=rules.months_with_a_meeting(meeting_days),
        months_in_period=rules.months_in(start, end),
    )
