"""Who may see and change which plan and which money flow: the object-level half of authorisation.

Plans belong to a province; flows carry their plan's province (allocations also the club's
commune) and their funder, so scope is decided locally. Out of scope answers 404, exactly like
an id that does not exist.
"""

from sqlalchemy import ColumnElement, false, true

from common.auth import Principal, Role
from common.problems import Forbidden

READERS = frozenset({Role.ADMIN, Role.OFFICER, Role.PARTNER, Role.SERVICE})
PLANNERS = frozenset({Role.ADMIN, Role.OFFICER})


def covers_province(principal: Principal, province_code: str) -> bool:
    """May the caller plan and move money in this province?"""
    if principal.role in (Role.ADMIN, Role.SERVICE):
        return True
    return principal.role is Role.OFFICER and province_code in principal.provinces


def may_see_flow(
    principal: Principal, funder_id: int, province_code: str, commune_code: str | None = None
) -> bool:
    """Officers see their area's flows, partners their own funder's, admins and services all."""
    if principal.role is Role.PARTNER:
        return funder_id == principal.funder_id
    if principal.role is Role.OFFICER and commune_code and principal.communes:
        return province_code in principal.provinces and commune_code in principal.communes
    return covers_province(principal, province_code)


def flow_filter(
    principal: Principal,
    funder_id: ColumnElement[int],
    province_code: ColumnElement[str],
    commune_code: ColumnElement[str] | None = None,
) -> ColumnElement[bool]:
    """`may_see_flow` as a condition on a flow table."""
    if principal.role in (Role.ADMIN, Role.SERVICE):
        return true()
    if principal.role is Role.PARTNER:
        return funder_id == principal.funder_id if principal.funder_id else false()
    if principal.role is Role.OFFICER:
        condition = province_code.in_(principal.provinces)
        if principal.communes and commune_code is not None:
            condition = condition & commune_code.in_(principal.communes)
        return condition
    return false()


def writer(principal: Principal) -> Principal:
    """Service tokens read; changes come from people and partner systems."""
    if principal.role is Role.SERVICE:
        raise Forbidden("Service tokens may read funding, not change it.")
    return principal
