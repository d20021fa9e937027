"""Who may see and change which plan and which money flow: the object-level half of authorisation.

Plans belong to a province; flows carry their plan's province (allocations also the club's
commune) and their funder, so scope is decided locally. Out of scope answers 404, exactly like
an id that does not exist.
"""

from sqlalchemy import ColumnElement, SQLColumnExpression
from sqlmodel import Session

from common import scope
from common.auth import Principal, Role
from common.problem_codes import Code
from common.problems import NotFound, invalid
from common.scope import PLACERS, Kind, Place, readers
from services.funding.catalogue.models import Funder, Programme

READERS = readers(Kind.FLOW)
PLANNERS = PLACERS


def sees_plans_of(principal: Principal, province_code: str) -> bool:
    """Does the caller's scope reach this province's plans?"""
    return scope.may_see(principal, Kind.PLAN, Place(province_code=province_code))


def asked_funder(session: Session, principal: Principal, funder_id: int | None) -> None:
    """A question narrowed to one funder: 404 when that funder's money is not the caller's to
    see (a partner asking about another) or the funder does not exist, the same answer either
    way, on every route, so nobody learns which funders exist by asking."""
    if funder_id is None:
        return
    others = principal.role is Role.PARTNER and funder_id != principal.funder_id
    if others or session.get(Funder, funder_id) is None:
        raise NotFound(f"No funder {funder_id}.")


def asked_programme(session: Session, programme_code: str | None) -> None:
    """A question narrowed to a programme phase that does not exist is refused (422)."""
    if programme_code is not None and session.get(Programme, programme_code) is None:
        reason = f"no programme {programme_code}"
        raise invalid("programme", reason, "query", code=Code.UNKNOWN_REFERENCE)


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
