"""Who may see and change which fund: the object-level half of authorisation.

A fund carries its club's province and commune, so scope is decided without asking the clubs
service. Funds out of the caller's scope answer 404, exactly like funds that do not exist.
"""

from sqlalchemy import ColumnElement, false, true
from sqlmodel import col

from common.auth import Principal, Role
from services.loans.ledger.models import Fund

FUND_READERS = frozenset({Role.ADMIN, Role.OFFICER, Role.CLUB_MANAGER, Role.SERVICE})
FUND_WRITERS = frozenset({Role.ADMIN, Role.OFFICER, Role.CLUB_MANAGER})
FUND_OPENERS = frozenset({Role.ADMIN, Role.OFFICER})


def covers(principal: Principal, club_id: int, province_code: str, commune_code: str) -> bool:
    """Is this club (by id and place) in the caller's scope?"""
    if principal.role in (Role.ADMIN, Role.SERVICE):
        return True
    if principal.role is Role.OFFICER:
        return province_code in principal.provinces and (
            not principal.communes or commune_code in principal.communes
        )
    if principal.role is Role.CLUB_MANAGER:
        return club_id in principal.clubs
    return False


def may_see(principal: Principal, fund: Fund) -> bool:
    return covers(principal, fund.club_id, fund.province_code, fund.commune_code)


def area_filter(
    principal: Principal,
    club_id: ColumnElement[int],
    province_code: ColumnElement[str | None],
    commune_code: ColumnElement[str | None],
) -> ColumnElement[bool]:
    """`covers` as a condition on any table that carries a club and its place."""
    if principal.role in (Role.ADMIN, Role.SERVICE):
        return true()
    if principal.role is Role.OFFICER:
        condition = province_code.in_(principal.provinces)
        if principal.communes:
            condition = condition & commune_code.in_(principal.communes)
        return condition
    if principal.role is Role.CLUB_MANAGER:
        return club_id.in_(principal.clubs)
    return false()


def fund_filter(principal: Principal) -> ColumnElement[bool]:
    """The funds this caller may see, as a condition on `Fund`."""
    return area_filter(
        principal, col(Fund.club_id), col(Fund.province_code), col(Fund.commune_code)
    )
