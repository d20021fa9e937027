"""One scope model: which objects of each kind a caller's role and scope reach.

Every service and the gateway ask the same question — may this principal see this object? —
either of one object (`may_see`) or as a condition on a table (`condition`). What each role
reaches of each kind of object is one table, `REACH`; a reach is decided by the object's place
(province, commune), club, funder or bank.

Out-of-scope objects are answered 404 by the routes, exactly like objects that do not exist,
so ids cannot be probed.
"""

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, false, true

from common.auth import Principal, Role


class Kind(StrEnum):
    """The kinds of object scope is decided for."""

    CLUB = "club"
    """A club in the registry: its name, place, status, composition and activities."""
    MEMBER = "member"
    """Members' personal data (names, citizen IDs, phones, birth dates) and their loans."""
    CLUB_MONEY = "club_money"
    """A club's funds, their entries, and member loans."""
    BANK_LOAN = "bank_loan"
    """A loan record of the Social Policy Bank, placed by the member it is matched to."""
    PLAN = "plan"
    """A province's plan (partners read the approved ones: that is the plan's state, not scope)."""
    FLOW = "flow"
    """Money of a funder: commitments, receipts, allocations to clubs."""


class Reach(StrEnum):
    ALL = "all"
    AREA = "area"
    """Objects in the principal's provinces (and its communes, when it has any; an object
    placed in a province only, as a plan is, is in every commune of it)."""
    OWN_CLUBS = "own_clubs"
    OWN_FUNDER = "own_funder"
    OWN_BANK = "own_bank"
    NONE = "none"


def _reaches(**by_kind: Reach) -> dict[Kind, Reach]:
    return {kind: by_kind.get(kind.value, Reach.NONE) for kind in Kind}


REACH: dict[Role, dict[Kind, Reach]] = {
    Role.ADMIN: {kind: Reach.ALL for kind in Kind},
    Role.SERVICE: {kind: Reach.ALL for kind in Kind},
    Role.OFFICER: {kind: Reach.AREA for kind in Kind},
    Role.CLUB_MANAGER: _reaches(
        club=Reach.OWN_CLUBS, member=Reach.OWN_CLUBS, club_money=Reach.OWN_CLUBS
    ),
    # Partners read every club of the registry (never its members) and every approved plan;
    # of money, their own funder's.
    Role.PARTNER: _reaches(club=Reach.ALL, plan=Reach.ALL, flow=Reach.OWN_FUNDER),
    Role.BANK: _reaches(bank_loan=Reach.OWN_BANK),
}
"""What each role reaches of each kind of object: the whole scope rule."""


@dataclass(frozen=True)
class Place:
    """What scope is decided by, of one object, or (in `condition`) the columns that hold it.

    A field left None is one the object does not have (a plan has no club)."""

    province_code: Any = None
    commune_code: Any = None
    club_id: Any = None
    funder_id: Any = None
    bank_code: Any = None


PLACERS = frozenset({Role.ADMIN, Role.OFFICER})
"""Who registers clubs and plans, or moves them: admins anywhere, officers in their area."""


def reach(role: Role, kind: Kind) -> Reach:
    return REACH.get(role, {}).get(kind, Reach.NONE)


NAMED_BY: dict[Reach, str] = {
    Reach.AREA: "provinces",
    Reach.OWN_CLUBS: "clubs",
    Reach.OWN_FUNDER: "funder_id",
    Reach.OWN_BANK: "bank_code",
}
"""The field of a principal's scope that names what a reach covers (an area also takes
`communes`, to narrow its provinces)."""


def needed_scope(role: Role) -> frozenset[str]:
    """The scope fields a principal of this role must carry: what its reaches are named by."""
    return frozenset(NAMED_BY[r] for r in REACH.get(role, {}).values() if r in NAMED_BY)


def readers(kind: Kind) -> frozenset[Role]:
    """The roles that reach some objects of this kind (the others are refused at once, 403)."""
    return frozenset(role for role in Role if reach(role, kind) is not Reach.NONE)


def may_see(principal: Principal, kind: Kind, place: Place) -> bool:
    """Does the principal's scope reach this object?"""
    match reach(principal.role, kind):
        case Reach.ALL:
            return True
        case Reach.AREA:
            return place.province_code in principal.provinces and (
                not principal.communes
                or place.commune_code is None
                or place.commune_code in principal.communes
            )
        case Reach.OWN_CLUBS:
            return place.club_id in principal.clubs
        case Reach.OWN_FUNDER:
            return principal.funder_id is not None and place.funder_id == principal.funder_id
        case Reach.OWN_BANK:
            return principal.bank_code is not None and place.bank_code == principal.bank_code
    return False


def condition(principal: Principal, kind: Kind, columns: Place) -> ColumnElement[bool]:
    """`may_see` as a condition on a table, given the columns that hold the object's place."""
    where: ColumnElement[bool] = false()
    match reach(principal.role, kind):
        case Reach.ALL:
            where = true()
        case Reach.AREA:
            where = columns.province_code.in_(principal.provinces)
            if principal.communes and columns.commune_code is not None:
                commune = columns.commune_code
                where = where & (commune.is_(None) | commune.in_(principal.communes))
        case Reach.OWN_CLUBS:
            where = columns.club_id.in_(principal.clubs)
        case Reach.OWN_FUNDER if principal.funder_id is not None:
            where = columns.funder_id == principal.funder_id
        case Reach.OWN_BANK if principal.bank_code is not None:
            where = columns.bank_code == principal.bank_code
    return where


def covers_place(principal: Principal, province_code: str, commune_code: str | None) -> bool:
    """May the caller place a club or a plan here (register it, move it)? Admins anywhere,
    officers in their area; reading an area is not enough to write in it."""
    if principal.role is Role.ADMIN:
        return True
    place = Place(province_code=province_code, commune_code=commune_code)
    return principal.role in PLACERS and may_see(principal, Kind.CLUB, place)
