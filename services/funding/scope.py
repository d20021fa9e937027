"""Who may see and change which plan and which money flow: the object-level half of authorisation.

Plans belong to a province; flows carry their plan's province (allocations also the club's
commune) and their funder, so scope is decided locally. Out of scope answers 404, exactly like
an id that does not exist.
"""

from sqlalchemy import ColumnElement, SQLColumnExpression

from common import scope
from common.auth import Principal
from common.scope import PLACERS, Kind, Place, readers

READERS = readers(Kind.FLOW)
PLANNERS = PLACERS


def sees_plans_of(principal: Principal, province_code: str) -> bool:
    """Does the caller's scope reach this province's plans?"""
    return scope.may_see(principal, Kind.PLAN, Place(province_code=province_code))


def may_see_flow(
    principal: Principal, funder_id: int, province_code: str, commune_code: str | None = None
) -> bool:
    """Officers see their area's flows, partners their own funder's, admins and services all."""
    place = Place(province_code=province_code, commune_code=commune_code, funder_id=funder_id)
    return scope.may_see(principal, Kind.FLOW, place)


def flow_filter(
    principal: Principal,
    funder_id: SQLColumnExpression[int],
    province_code: SQLColumnExpression[str],
    commune_code: SQLColumnExpression[str] | None = None,
) -> ColumnElement[bool]:
    """`may_see_flow` as a condition on a flow table."""
    place = Place(province_code=province_code, commune_code=commune_code, funder_id=funder_id)
    return scope.condition(principal, Kind.FLOW, place)
