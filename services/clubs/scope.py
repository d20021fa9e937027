"""Who may see which club: the object-level half of authorisation.

Out-of-scope clubs answer 404, exactly like clubs that do not exist, so ids cannot be probed.
"""

from typing import Annotated

from fastapi import Depends
from sqlalchemy import ColumnElement, false, true

from common.auth import CurrentPrincipal, Principal, Role
from common.db import SessionDep
from common.problems import Forbidden, NotFound
from common.schemas import IdPath
from services.clubs.models import Club

# Our own services read members (e.g. to match bank borrowers); partners and the bank never do.
PERSONAL_DATA_ROLES = frozenset({Role.ADMIN, Role.OFFICER, Role.CLUB_MANAGER, Role.SERVICE})
CLUB_WRITERS = frozenset({Role.ADMIN, Role.OFFICER})
CLUB_READERS = frozenset({Role.ADMIN, Role.OFFICER, Role.CLUB_MANAGER, Role.PARTNER, Role.SERVICE})


def club_filter(principal: Principal) -> ColumnElement[bool]:
    """The clubs this caller may see, as a condition on `Club`."""
    if principal.role in (Role.ADMIN, Role.PARTNER, Role.SERVICE):
        return true()
    if principal.role is Role.OFFICER:
        condition = Club.province_code.in_(principal.provinces)
        if principal.communes:
            condition = condition & Club.commune_code.in_(principal.communes)
        return condition
    if principal.role is Role.CLUB_MANAGER:
        return Club.id.in_(principal.clubs)
    return false()


def may_see(principal: Principal, club: Club) -> bool:
    if principal.role in (Role.ADMIN, Role.PARTNER, Role.SERVICE):
        return True
    if principal.role is Role.OFFICER:
        return club.province_code in principal.provinces and (
            not principal.communes or club.commune_code in principal.communes
        )
    if principal.role is Role.CLUB_MANAGER:
        return club.id in principal.clubs
    return False


def covers_location(principal: Principal, province_code: str, commune_code: str) -> bool:
    """May this caller register or move a club to this place?"""
    if principal.role is Role.ADMIN:
        return True
    return (
        principal.role is Role.OFFICER
        and province_code in principal.provinces
        and (not principal.communes or commune_code in principal.communes)
    )


def require_personal_data_access(principal: Principal) -> None:
    if principal.role not in PERSONAL_DATA_ROLES:
        raise Forbidden("Members' personal data is not available to this role.")


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


def managed_club(club: ClubWithMembers, principal: CurrentPrincipal) -> Club:
    """A club whose members, meetings and activities the caller may change."""
    if principal.role is Role.SERVICE:
        raise Forbidden("Service tokens may not change clubs.")
    return club


ManagedClub = Annotated[Club, Depends(managed_club)]
