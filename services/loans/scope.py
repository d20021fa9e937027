"""Who may see and change which fund: the object-level half of authorisation.

A fund carries its club's province and commune, so scope is decided without asking the clubs
service. Funds out of the caller's scope answer 404, exactly like funds that do not exist.
"""

from sqlalchemy import ColumnElement, SQLColumnExpression
from sqlmodel import col

from common import scope
from common.auth import Principal
from common.scope import PLACERS, Kind, Place, readers
from services.loans.ledger.models import Fund

FUND_READERS = readers(Kind.CLUB_MONEY)
FUND_OPENERS = PLACERS


def covers(principal: Principal, club_id: int, province_code: str, commune_code: str) -> bool:
    """Is this club's money (by the club's id and place) in the caller's scope?"""
    return scope.may_see(principal, Kind.CLUB_MONEY, Place(province_code, commune_code, club_id))


def may_see(principal: Principal, fund: Fund) -> bool:
    return covers(principal, fund.club_id, fund.province_code, fund.commune_code)


def area_filter(
    principal: Principal,
    club_id: SQLColumnExpression[int | None],
    province_code: SQLColumnExpression[str | None],
    commune_code: SQLColumnExpression[str | None],
) -> ColumnElement[bool]:
    """`covers` as a condition on any table that carries a club and its place."""
    return scope.condition(principal, Kind.CLUB_MONEY, Place(province_code, commune_code, club_id))


def fund_filter(principal: Principal) -> ColumnElement[bool]:
    """The funds this caller may see, as a condition on `Fund`."""
    return area_filter(
        principal, col(Fund.club_id), col(Fund.province_code), col(Fund.commune_code)
    )
