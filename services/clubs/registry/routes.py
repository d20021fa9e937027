"""`/api/v1/clubs`: the registry of clubs."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from sqlalchemy import ColumnElement, func
from sqlmodel import Session, col, select

from common import clock, places
from common.auth import CurrentPrincipal, Principal, Role, require_roles
from common.db import SessionDep, id_of
from common.etag import IfMatch, claim_version, set_etag
from common.paging import Synced, page_of
from common.problem_codes import Code
from common.problems import Conflict, NotFound, invalid
from common.schemas import MAX_IDS, Id, Page, PageDep, WrittenDay
from common.scope import covers_place
from common.sync import ChangedSince
from common.text import fold
from services.clubs import audit, events
from services.clubs.audit import ActorDep
from services.clubs.domain import ClubStatus
from services.clubs.locations import legacy
from services.clubs.models import AuditEntry, Club, ClubStatusChange, QuotaProfile, outbox
from services.clubs.quotas.composition import compliance_join
from services.clubs.quotas.routes import default_profile
from services.clubs.registry.rules import (
    check_founding_before_records,
    check_location,
    check_transition,
)
from services.clubs.registry.schemas import (
    AuditEntryPublic,
    ClubCreate,
    ClubPublic,
    ClubSort,
    ClubUpdate,
    CommuneCode,
    ProvinceCode,
    StatusChange,
)
from services.clubs.scope import (
    CLUB_READERS,
    CLUB_WRITERS,
    VisibleClub,
    club_filter,
)

router = APIRouter(
    prefix="/api/v1/clubs", tags=["clubs"], dependencies=[Depends(require_roles(*CLUB_READERS))]
)
writers = [Depends(require_roles(*CLUB_WRITERS))]


def public(club: Club) -> ClubPublic:
    province = places.provinces().get(club.province_code)
    commune = places.communes().get(club.commune_code)
    return ClubPublic(
        **club.model_dump(),
        province_name=province.name if province else "",
        commune_name=commune.name if commune else "",
    )


def _check_place(principal: Principal, province_code: str, commune_code: str) -> None:
    check_location(province_code, commune_code)
    if not covers_place(principal, province_code, commune_code):
        # Outside the caller's area: said as "not found", like everything out of scope.
        raise NotFound(f"No commune {commune_code} in your area.")


def _profile(session: Session, profile_id: int | None) -> QuotaProfile:
    if profile_id is None:
        return default_profile(session)
    profile = session.get(QuotaProfile, profile_id)
    if profile is None:
        raise invalid(
            "quota_profile_id", f"no quota profile {profile_id}", code=Code.UNKNOWN_REFERENCE
        )
    return profile


@router.post(
    "", response_model=ClubPublic, status_code=201, dependencies=writers, summary="Register a club"
)
def create_club(
    payload: ClubCreate,
    session: SessionDep,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
) -> ClubPublic:
    _check_place(principal, payload.province_code, payload.commune_code)
    profile = _profile(session, payload.quota_profile_id)
    if session.exec(select(Club.id).where(Club.code == payload.code)).first():
        raise Conflict(f"The club code {payload.code!r} is taken.", code=Code.ALREADY_EXISTS)
    club = Club(
        **payload.model_dump(exclude={"quota_profile_id", "status"}),
        quota_profile_id=id_of(profile),
        status=payload.status.value,
        name_folded=fold(payload.name),
    )
    _place_before_the_merger(club)
    session.add(club)
    session.flush()
    audit.record(
        session,
        audit.Actor(principal, request),
        "club",
        id_of(club),
        "created",
        None,
        audit.snapshot(club),
    )
    outbox.emit(session, events.club_created(club))
    set_etag(response, club.version)
    response.headers["Location"] = f"/api/v1/clubs/{club.id}"
    return public(club)


@router.get("", response_model=Page[ClubPublic], summary="List and search clubs")
def list_clubs(
    session: SessionDep,
    principal: CurrentPrincipal,
    page: PageDep,
    province: Annotated[ProvinceCode | None, Query(description="Province code")] = None,
    commune: Annotated[CommuneCode | None, Query(description="Commune code")] = None,
    former_province: Annotated[
        str | None,
        Query(
            pattern=r"^\d{2}$",
            description="Code of a province as it was before the 2025 merger: its clubs.",
        ),
    ] = None,
    former_district: Annotated[
        str | None,
        Query(
            pattern=r"^\d{3}$",
            description="Code of a district as it was before the 2025 merger: the clubs whose "
            "former district is known to be it.",
        ),
    ] = None,
    status: ClubStatus | None = None,
    compliant: Annotated[
        bool | None,
        Query(
            description="Only clubs that meet (true) or fail (false) their quota profile on `on`."
        ),
    ] = None,
    on: Annotated[
        WrittenDay | None, Query(description="Date for `compliant`; today in Vietnam by default.")
    ] = None,
    founded_from: WrittenDay | None = None,
    founded_to: WrittenDay | None = None,
    q: Annotated[
        str | None,
        Query(
            max_length=100,
            description=("Part of the name or code; case and diacritics are ignored."),
        ),
    ] = None,
    sort: ClubSort = "code",
    ids: Annotated[
        list[Id] | None,
        Query(max_length=MAX_IDS, description="Only these clubs (a batched lookup)."),
    ] = None,
    since: ChangedSince = None,
) -> Page[ClubPublic]:
    filters: list[ColumnElement[bool]] = [club_filter(principal)]
    if ids:
        filters.append(col(Club.id).in_(ids))
    if province:
        filters.append(col(Club.province_code) == province)
    if commune:
        filters.append(col(Club.commune_code) == commune)
    if former_province:
        filters.append(col(Club.former_province_code) == former_province)
    if former_district:
        filters.append(col(Club.former_district_code) == former_district)
    if status:
        filters.append(col(Club.status) == status.value)
    if founded_from:
        filters.append(col(Club.founding_decision_date) >= founded_from)
    if founded_to:
        filters.append(col(Club.founding_decision_date) <= founded_to)
    if q:
        folded = fold(q)
        filters.append(
            col(Club.name_folded).contains(folded)
            | func.lower(col(Club.code)).contains(q.strip().lower())
        )
    query = select(Club).where(*filters)
    if compliant is not None:
        query = compliance_join(query, session, on or clock.today(), compliant, *filters)
    column = getattr(Club, sort.lstrip("-"))
    order = column.desc() if sort.startswith("-") else column.asc()
    synced = Synced(col(Club.sync_stamp), since)
    paged = page_of(session, query, page, order, col(Club.id), synced=synced)
    return paged.page([public(club) for club in paged.rows])


def _place_before_the_merger(club: Club) -> None:
    former = legacy.former_place(club.commune_code, club.legacy_address)
    club.former_province_code, club.former_district_code = (
        former.province_code,
        former.district_code,
    )


def _save(
    session: Session,
    club: Club,
    actor: audit.Actor,
    action: str,
    before: dict[str, Any],
    after: dict[str, Any],
) -> None:
    """Places a changed club before the merger, then stamps and audits it."""
    _place_before_the_merger(club)
    audit.save(session, actor, club, "club", action, before, after)


@router.get("/{club_id}", response_model=ClubPublic, summary="One club")
def read_club(club: VisibleClub, response: Response) -> ClubPublic:
    set_etag(response, club.version)
    return public(club)


@router.patch(
    "/{club_id}",
    response_model=ClubPublic,
    dependencies=writers,
    summary="Change a club (send If-Match with the ETag you read)",
)
def update_club(
    club: VisibleClub,
    payload: ClubUpdate,
    session: SessionDep,
    actor: ActorDep,
    response: Response,
    if_match: IfMatch = None,
) -> ClubPublic:
    changes = payload.model_dump(exclude_unset=True)
    before = audit.snapshot(club)
    if "province_code" in changes or "commune_code" in changes:
        _check_place(
            actor.principal,
            changes.get("province_code", club.province_code),
            changes.get("commune_code", club.commune_code),
        )
    if "founding_decision_date" in changes:
        check_founding_before_records(session, id_of(club), changes["founding_decision_date"])
    if "quota_profile_id" in changes:
        changes["quota_profile_id"] = _profile(session, changes["quota_profile_id"]).id
    claim_version(session, club, if_match)
    for name, value in changes.items():
        setattr(club, name, value)
    if "name" in changes:
        club.name_folded = fold(club.name)
    _save(session, club, actor, "updated", before, audit.snapshot(club))
    set_etag(response, club.version)
    return public(club)


@router.post(
    "/{club_id}/status",
    response_model=ClubPublic,
    dependencies=writers,
    summary="Move a club through planned → active ↔ suspended → dissolved",
)
def change_status(
    club: VisibleClub,
    payload: StatusChange,
    session: SessionDep,
    actor: ActorDep,
    response: Response,
    if_match: IfMatch = None,
) -> ClubPublic:
    check_transition(ClubStatus(club.status), payload.status)
    before = {"status": club.status}
    claim_version(session, club, if_match)
    club.status = payload.status.value
    after = {"status": club.status, "reason": payload.reason}
    _save(session, club, actor, "status_changed", before, after)
    session.add(
        ClubStatusChange(
            club_id=id_of(club), status_before=before["status"], status_after=club.status
        )
    )
    outbox.emit(session, events.club_status_changed(club, before["status"], payload.reason))
    set_etag(response, club.version)
    return public(club)


@router.get(
    "/{club_id}/audit",
    response_model=Page[AuditEntryPublic],
    dependencies=[Depends(require_roles(Role.ADMIN))],
    summary="Who changed this club, when and how (admins)",
)
def club_audit(club: VisibleClub, session: SessionDep, page: PageDep) -> Page[AuditEntry]:
    return audit_page(session, "club", id_of(club), page)


def audit_page(session: Session, entity: str, entity_id: int, page: PageDep) -> Page[AuditEntry]:
    filters = [col(AuditEntry.entity) == entity, col(AuditEntry.entity_id) == entity_id]
    paged = page_of(session, select(AuditEntry).where(*filters), page, col(AuditEntry.id))
    return paged.page(paged.rows)
