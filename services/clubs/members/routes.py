"""`/api/v1/clubs/{club_id}/members|board` and `/api/v1/members/{id}`: a club's members.

Members' personal data is for admins, the officer of the club's area and the club's own board
(reading and writing) and for service tokens (reading). Partners and the bank are refused here
too, not only at the gateway; clubs and members out of the caller's scope answer 404.
"""

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, File, Query, Request, Response, UploadFile
from sqlmodel import Session, col

from common import clock
from common.auth import CurrentPrincipal, Role, Writer, require_roles
from common.db import SessionDep, id_of
from common.etag import IfMatch, set_etag
from common.personal_data import shown
from common.problem_codes import Code
from common.problems import Conflict, NotFound, ValidationFailed, field_error
from common.schemas import IdPath, Page, PageDep, WrittenDay
from common.sealing import blind_index
from common.spreadsheets import Upload
from common.sync import ChangedSince
from services.clubs.audit import Actor
from services.clubs.domain import BoardRole, Gender, Household
from services.clubs.members import erasure, import_jobs, importer, service
from services.clubs.members.holdings import ClubsHoldings, holdings
from services.clubs.members.import_jobs import INLINE_ROWS, MemberImportJob, PreferHeader
from services.clubs.members.schemas import (
    ActiveMembership,
    Board,
    ErasurePublic,
    ErasureRequest,
    ImportReport,
    Leave,
    MemberCreate,
    MemberLookup,
    MemberPublic,
    MemberSort,
    MemberUpdate,
)
from services.clubs.members.service import public
from services.clubs.models import AuditEntry, Club, Member
from services.clubs.registry.routes import audit_page
from services.clubs.registry.schemas import AuditEntryPublic
from services.clubs.scope import ManagedClub, VisibleClub, may_see

MEMBER_READERS = (Role.ADMIN, Role.OFFICER, Role.CLUB_MANAGER, Role.SERVICE)
readers = [Depends(require_roles(*MEMBER_READERS))]

club_members = APIRouter(prefix="/api/v1/clubs", tags=["members"], dependencies=readers)
members = APIRouter(prefix="/api/v1/members", tags=["members"], dependencies=readers)


def visible_member(member_id: IdPath, session: SessionDep, principal: CurrentPrincipal) -> Member:
    member = session.get(Member, member_id)
    club = session.get(Club, member.club_id) if member is not None else None
    if member is None or club is None or not may_see(principal, club):
        raise NotFound(f"No member {member_id}.")
    return member


VisibleMember = Annotated[Member, Depends(visible_member)]


def managed_member(member: VisibleMember, _writer: Writer) -> Member:
    if member.erased_on is not None:
        raise Conflict(
            f"Member {member.id}'s data was erased on {member.erased_on.isoformat()}; "
            "the record no longer changes.",
            code=Code.MEMBER_ERASED,
        )
    return member


ManagedMember = Annotated[Member, Depends(managed_member)]


def _club_of(session: Session, member: Member) -> Club:
    club = session.get(Club, member.club_id)
    assert club is not None  # the foreign key holds it
    return club


@club_members.post(
    "/{club_id}/members",
    response_model=MemberPublic,
    status_code=201,
    summary="Add a member to a club",
)
def create_member(
    club: ManagedClub,
    payload: MemberCreate,
    session: SessionDep,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
) -> MemberPublic:
    member = service.add_member(session, Actor(principal, request), club, payload)
    set_etag(response, member.version)
    response.headers["Location"] = f"/api/v1/members/{member.id}"
    return public(member)


@club_members.get(
    "/{club_id}/members", response_model=Page[MemberPublic], summary="List a club's members"
)
def list_members(
    club: VisibleClub,
    session: SessionDep,
    page: PageDep,
    response: Response,
    active_on: Annotated[
        WrittenDay | None, Query(description="Members on this date; today in Vietnam by default.")
    ] = None,
    include_left: Annotated[
        bool, Query(description="Every membership, also those that ended.")
    ] = False,
    q: Annotated[
        str | None, Query(max_length=100, description="Part of the name; diacritics ignored.")
    ] = None,
    board_role: BoardRole | None = None,
    household_status: Household | None = None,
    gender: Gender | None = None,
    sort: Annotated[
        MemberSort,
        Query(description="name (full name), given_name (the Vietnamese order), or id."),
    ] = "name",
    since: ChangedSince = None,
) -> Page[MemberPublic]:
    if include_left and active_on is not None:
        raise ValidationFailed(
            "include_left: lists every membership; leave out active_on",
            errors=[
                field_error(
                    "include_left",
                    "cannot be combined with active_on",
                    "query",
                    code=Code.MUTUALLY_EXCLUSIVE,
                )
            ],
        )
    conditions = [col(Member.club_id) == club.id]
    if since is None:
        conditions.append(service.membership_filter(active_on, include_left))
    else:  # a member who left since is a change to the app's list: it comes with its left_on
        conditions.append(since.changed(col(Member.sync_stamp)))
    if board_role:
        conditions.append(col(Member.board_role) == board_role.value)
    if household_status:
        conditions.append(col(Member.household_status) == household_status.value)
    if gender:
        conditions.append(col(Member.gender) == gender.value)
    paged = service.find_members(session, conditions, q, sort, page)
    shown(response, (m.id for m in paged.rows))
    return paged.page([public(m) for m in paged.rows])


@club_members.get(
    "/{club_id}/board",
    response_model=Board,
    summary="The board and volunteer teams, checked against the club model",
)
def read_board(
    club: VisibleClub,
    session: SessionDep,
    response: Response,
    on: Annotated[WrittenDay | None, Query(description="Today in Vietnam by default.")] = None,
) -> Board:
    board = service.board(session, club, on or clock.today())
    shown(response, (seat.member_id for seat in board.seats))  # their names
    return board


@club_members.post(
    "/{club_id}/members/import",
    response_model=ImportReport,
    status_code=201,
    responses={
        200: {"model": ImportReport, "description": "Dry run: the report, no writes"},
        202: {
            "model": MemberImportJob,
            "description": f"More than {INLINE_ROWS:,} rows, or `Prefer: respond-async`: a job "
            "imports it; follow it at `Location`.",
        },
    },
    summary="Import a member list (CSV or XLSX); all rows or none",
)
def import_members(
    club: ManagedClub,
    file: Annotated[UploadFile, File(description="The member list, .csv or .xlsx.")],
    session: SessionDep,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
    prefer: PreferHeader = None,
    dry_run: Annotated[bool, Query(description="Check every row and write nothing.")] = False,
) -> Any:
    upload = Upload(file.file.read(), file.filename, file.content_type)
    if import_jobs.wants_job(upload, prefer):
        return import_jobs.start(session, principal, club, upload, dry_run)
    report = importer.import_members(
        session, Actor(principal, request), club, upload, dry_run=dry_run
    )
    if dry_run:
        response.status_code = 200
    return report


@members.post(
    "/lookup",
    response_model=list[ActiveMembership],
    dependencies=[Depends(require_roles(Role.ADMIN, Role.SERVICE))],
    summary="Active members of these IDs who consent to bank matching (admins, services)",
)
def lookup_members(payload: MemberLookup, session: SessionDep) -> Response:
    """For matching other records to members, e.g. the bank's borrowers: up to 10,000 IDs or
    blind indexes, answered with one query. Nobody's active membership is simply not in the
    answer."""
    if payload.national_ids is None:
        found = service.lookup_active(session, payload.national_id_blind_indexes or [])
    else:
        asked = {blind_index(national_id): national_id for national_id in payload.national_ids}
        found = service.lookup_active(session, list(asked))
        for item in found:
            item["national_id"] = asked[item["national_id_blind_index"]]
    answer = Response(orjson.dumps(found), media_type="application/json")
    if payload.national_ids is not None:  # who holds these IDs: a read of their data
        shown(answer, (item["member_id"] for item in found))
    return answer


@members.get("/{member_id}", response_model=MemberPublic, summary="One member")
def read_member(member: VisibleMember, response: Response) -> MemberPublic:
    set_etag(response, member.version)
    shown(response, [member.id])
    return public(member)


@members.patch(
    "/{member_id}",
    response_model=MemberPublic,
    summary="Change a member (send If-Match with the ETag you read)",
)
def update_member(
    member: ManagedMember,
    payload: MemberUpdate,
    session: SessionDep,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
    if_match: IfMatch = None,
) -> MemberPublic:
    club = _club_of(session, member)
    service.update_member(session, Actor(principal, request), club, member, payload, if_match)
    set_etag(response, member.version)
    return public(member)


@members.post(
    "/{member_id}/leave",
    response_model=MemberPublic,
    summary="End a membership (the record stays; a re-join is a new membership)",
)
def leave_club(
    member: ManagedMember,
    payload: Leave,
    session: SessionDep,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
    if_match: IfMatch = None,
) -> MemberPublic:
    service.leave(session, Actor(principal, request), member, payload, if_match)
    set_etag(response, member.version)
    return public(member)


@members.get(
    "/{member_id}/audit",
    response_model=Page[AuditEntryPublic],
    dependencies=[Depends(require_roles(Role.ADMIN))],
    summary="Who changed this member, when and how (admins)",
)
def member_audit(
    member: VisibleMember, session: SessionDep, page: PageDep, response: Response
) -> Page[AuditEntry]:
    shown(response, [member.id])  # the snapshots hold the member's fields
    return audit_page(session, "member", id_of(member), page)


ERASERS = [Depends(require_roles(Role.ADMIN, Role.OFFICER))]


def person(member: VisibleMember, session: SessionDep) -> list[Member]:
    return erasure.person_of(session, member)


Person = Annotated[list[Member], Depends(person)]


async def settled(person: Person, request: Request) -> list[Member]:
    """The person, once the loans service says none of their loans is still open (409 if)."""
    ids = [id_of(member) for member in person if member.erased_on is None]
    if ids:
        erasure.refuse_outstanding(await erasure.outstanding_loans(request.app.state.loans, ids))
    return person


@members.post(
    "/{member_id}/erasure",
    response_model=ErasurePublic,
    dependencies=ERASERS,
    summary="Erase a person's data on their request (admins; officers in their area)",
    description="Every membership of the person (same citizen ID) keeps its ids, club, gender, "
    "household status, dates, attendance and consents' purposes, so funds and past figures "
    "stay as they were; the name, citizen ID, phone, birth date, board seat and the consents' "
    "references are removed here and from the audit trail, and the loans service unlinks the "
    "bank's records and clears its free text. An active membership ends today. 409 while a "
    "loan of the person's is applied, approved or being repaid, or when already erased.",
)
def erase_member(
    person: Annotated[list[Member], Depends(settled)],
    payload: ErasureRequest,
    session: SessionDep,
    principal: CurrentPrincipal,
    request: Request,
) -> ErasurePublic:
    pending = [member for member in person if member.erased_on is None]
    why = erasure.Erasure(payload.reason, payload.request_reference)
    erasure.erase(session, Actor(principal, request), person, why)
    return ErasurePublic(
        member_ids=[id_of(member) for member in pending],
        erased_on=clock.today(),
        reason=payload.reason,
        request_reference=payload.request_reference,
    )


internal = APIRouter(prefix="/internal/members", tags=["personal data"], dependencies=ERASERS)


@internal.get(
    "/{member_id}/personal-data",
    response_model=ClubsHoldings,
    summary="What this service holds about the member's person (the gateway's part)",
)
def personal_data(
    member: VisibleMember, session: SessionDep, principal: CurrentPrincipal
) -> ClubsHoldings:
    return holdings(session, principal, member)


router = APIRouter()
router.include_router(import_jobs.router, dependencies=readers)
router.include_router(club_members)
router.include_router(members)
router.include_router(internal)
