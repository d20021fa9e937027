"""`/api/v1/clubs/{club_id}/activities|meetings|coverage`: what a club does and how it meets.

Activities and coverage are not personal data: every role that may see the club reads them.
Meetings list the members who attended, so only those who may see members read them. Writes
are for admins, the officer of the club's area and the club's own board.
"""

from dataclasses import dataclass
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response

from common import clock
from common.auth import CurrentPrincipal, require_roles
from common.db import SessionDep
from common.personal_data import as_seen_by
from common.schemas import IdPath, Page, PageDep, WrittenDay
from common.sync import ChangedSince
from services.clubs.activities import rules, service
from services.clubs.activities.schemas import (
    ActivityCreate,
    ActivityPublic,
    ActivityUpdate,
    Coverage,
    MeetingCreate,
    MeetingPublic,
    MeetingUpdate,
)
from services.clubs.audit import Actor
from services.clubs.domain import ActivityArea
from services.clubs.models import Activity
from services.clubs.scope import CLUB_READERS, ClubWithMembers, ManagedClub, VisibleClub

router = APIRouter(
    prefix="/api/v1/clubs/{club_id}",
    tags=["activities"],
    dependencies=[Depends(require_roles(*CLUB_READERS))],
)

From = Annotated[WrittenDay | None, Query(alias="from", description="First day (inclusive).")]
To = Annotated[WrittenDay | None, Query(alias="to", description="Last day (inclusive).")]


@dataclass(frozen=True)
class Period:
    start: date | None
    end: date | None


def period(start: From = None, end: To = None) -> Period:
    """An optional `from`–`to` filter on the day a record took place (422 if from > to)."""
    rules.check_period(start, end)
    return Period(start, end)


PeriodDep = Annotated[Period, Depends(period)]


def actor(principal: CurrentPrincipal, request: Request) -> Actor:
    return Actor(principal, request)


ActorDep = Annotated[Actor, Depends(actor)]


# Activities


def club_activity(club: VisibleClub, activity_id: IdPath, session: SessionDep) -> Activity:
    return service.find_activity(session, club, activity_id)


ClubActivity = Annotated[Activity, Depends(club_activity)]


@router.post(
    "/activities",
    response_model=ActivityPublic,
    status_code=201,
    summary="Record an activity in one of the eight areas",
)
def create_activity(
    club: ManagedClub,
    payload: ActivityCreate,
    session: SessionDep,
    writer: ActorDep,
    response: Response,
) -> ActivityPublic:
    activity = service.add_activity(session, writer, club, payload)
    response.headers["Location"] = f"/api/v1/clubs/{club.id}/activities/{activity.id}"
    return service.activity_public(activity)


@router.get(
    "/activities",
    response_model=Page[ActivityPublic],
    summary="A club's activities, newest first",
)
def list_activities(
    club: VisibleClub,
    principal: CurrentPrincipal,
    session: SessionDep,
    page: PageDep,
    period: PeriodDep,
    area: Annotated[ActivityArea | None, Query(description="Only this area.")] = None,
    since: ChangedSince = None,
) -> Page[ActivityPublic]:
    paged = service.find_activities(session, club, period.start, period.end, area, page, since)
    return as_seen_by(principal, paged.page([service.activity_public(row) for row in paged.rows]))


@router.get("/activities/{activity_id}", response_model=ActivityPublic, summary="One activity")
def read_activity(activity: ClubActivity, principal: CurrentPrincipal) -> ActivityPublic:
    return as_seen_by(principal, service.activity_public(activity))


@router.patch(
    "/activities/{activity_id}", response_model=ActivityPublic, summary="Correct an activity"
)
def update_activity(
    club: ManagedClub,
    activity: ClubActivity,
    payload: ActivityUpdate,
    session: SessionDep,
    writer: ActorDep,
) -> ActivityPublic:
    service.update_activity(session, writer, club, activity, payload)
    return service.activity_public(activity)


@router.delete(
    "/activities/{activity_id}",
    status_code=204,
    response_class=Response,
    summary="Remove an activity recorded by mistake",
)
def delete_activity(
    club: ManagedClub, activity: ClubActivity, session: SessionDep, writer: ActorDep
) -> Response:
    service.delete_activity(session, writer, club, activity)
    return Response(status_code=204)


# Meetings


@router.post(
    "/meetings",
    response_model=MeetingPublic,
    status_code=201,
    summary="Record a meeting with its attending members (one a day)",
)
def create_meeting(
    club: ManagedClub,
    payload: MeetingCreate,
    session: SessionDep,
    writer: ActorDep,
    response: Response,
) -> MeetingPublic:
    meeting = service.add_meeting(session, writer, club, payload)
    response.headers["Location"] = f"/api/v1/clubs/{club.id}/meetings/{meeting.id}"
    return meeting


@router.get(
    "/meetings",
    response_model=Page[MeetingPublic],
    summary="A club's meetings, newest first (those who may see members)",
)
def list_meetings(
    club: ClubWithMembers,
    session: SessionDep,
    page: PageDep,
    period: PeriodDep,
    since: ChangedSince = None,
) -> Page[MeetingPublic]:
    return service.find_meetings(session, club, period.start, period.end, page, since)


@router.get("/meetings/{meeting_id}", response_model=MeetingPublic, summary="One meeting")
def read_meeting(club: ClubWithMembers, meeting_id: IdPath, session: SessionDep) -> MeetingPublic:
    return service.read_meeting(session, club, meeting_id)


@router.patch(
    "/meetings/{meeting_id}",
    response_model=MeetingPublic,
    summary="Correct a meeting (attending_member_ids replaces the attendance)",
)
def update_meeting(
    club: ManagedClub,
    meeting_id: IdPath,
    payload: MeetingUpdate,
    session: SessionDep,
    writer: ActorDep,
) -> MeetingPublic:
    meeting = service.find_meeting(session, club, meeting_id)
    return service.update_meeting(session, writer, club, meeting, payload)


# Coverage


@router.get(
    "/coverage",
    response_model=Coverage,
    summary="Which of the eight areas a club covered in a period, and its meetings",
)
def club_coverage(
    club: VisibleClub,
    session: SessionDep,
    start: From = None,
    end: To = None,
) -> Coverage:
    """By default the calendar year to date; only `to` given: that date's year up to it."""
    period_from, period_to = rules.coverage_period(start, end, clock.today())
    return service.coverage(session, club, period_from, period_to)
