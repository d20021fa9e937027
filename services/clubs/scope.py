"""Who may see which club: the object-level half of authorisation.

Out-of-scope clubs answer 404, exactly like clubs that do not exist, so ids cannot be probed.
"""

from typing import Annotated

from fastapi import Depends
from sqlalchemy import ColumnElement
from sqlmodel import col

from common import scope
from common.auth import CurrentPrincipal, Principal, Writer
from common.db import SessionDep
from common.problem_codes import Code
from common.problems import Forbidden, NotFound
from common.schemas import IdPath
from common.scope import PLACERS, Kind, Place, condition, readers
from services.clubs.models import Club

PERSONAL_DATA_ROLES = readers(Kind.MEMBER)
CLUB_WRITERS = PLACERS
CLUB_READERS = readers(Kind.CLUB)
CLUB_PLACE = Place(
    province_code=col(Club.province_code), commune_code=col(Club.commune_code), club_id=col(Club.id)
)
"""Where a club is, as `Club`'s columns."""


def club_filter(principal: Principal) -> ColumnElement[bool]:
    """The clubs this caller may see, as a condition on `Club`."""
    return condition(principal, Kind.CLUB, CLUB_PLACE)


def may_see(principal: Principal, club: Club) -> bool:
    return scope.may_see(
        principal, Kind.CLUB, Place(club.province_code, club.commune_code, club.id)
    )


def require_personal_data_access(principal: Principal) -> None:
    if principal.role not in PERSONAL_DATA_ROLES:
        raise Forbidden(
            "Members' personal data is not available to this role.",
            code=Code.PERSONAL_DATA_FORBIDDEN,
        )


def visible_club(club_id: IdPath, session: SessionDep, principal: CurrentPrincipal) -> Club:
    club = session.get(Club, club_id)
    if club is None or not may_see(principal, club):
        raise NotFound(f"No club {club_id}.")
    return club


VisibleClub = Annotated[Club, Depends(visible_club)]


def club_with_members(club: VisibleClub, principal: CurrentPrincipal) -> Club:
    """A club whose members the caller may see (its area's officer, its board, admins, services)."""
    require_personal_data_access(principal)
    return club


ClubWithMembers = Annotated[Club, Depends(club_with_members)]


def managed_club(club: ClubWithMembers, principal: Writer) -> Club:
    """A club whose members, meetings and activities the caller may change."""
    return club


ManagedClub = Annotated[Club, Depends(managed_club)]
