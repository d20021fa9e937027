"""The scope rule, role × scope × kind of object, as one table (`common/scope.py`).

For every role, with and without a narrower scope, and every kind of object, the objects a
principal may see are checked one by one (`may_see`) and as a query (`condition`, run on a
real table), against the reach this table states. The services' own tests check that each
route asks the rule with the right kind.
"""

from collections.abc import Callable

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, insert, select

from common.auth import Principal, Role
from common.scope import Kind, Place, condition, may_see, needed_scope

# fmt: off
EXPECTED_REACH = """
role          club   member  club_money  bank_loan  plan  flow
admin         all    all     all         all        all   all
service       all    all     all         all        all   all
officer       area   area    area        area       area  area
club_manager  clubs  clubs   clubs       -          -     -
partner       all    -       -           -          all   funder
bank          -      -       -           bank       -     -
"""
# fmt: on

OBJECTS = {
    "in_commune_1": Place("01", "00001", 1, 10, "VBSP"),
    "in_commune_2": Place("01", "00002", 2, 11, "OTHER"),
    "other_province": Place("02", "00003", 3, 10, "VBSP"),
    "province_only": Place("01", None, None, None, None),
    "placed_nowhere": Place(None, None, None, 12, "VBSP"),
}
PRINCIPALS = {
    "admin": Principal("a", Role.ADMIN),
    "service": Principal("s", Role.SERVICE),
    "officer": Principal("o", Role.OFFICER, provinces=("01",)),
    "commune_officer": Principal("c", Role.OFFICER, provinces=("01",), communes=("00001",)),
    "club_manager": Principal("m", Role.CLUB_MANAGER, clubs=(1,)),
    "partner": Principal("p", Role.PARTNER, funder_id=10),
    "bank": Principal("b", Role.BANK, bank_code="VBSP"),
}
SEES: dict[str, Callable[[Principal, Place], bool]] = {
    "all": lambda who, place: True,
    "-": lambda who, place: False,
    "area": lambda who, place: (
        place.province_code in who.provinces
        and (not who.communes or place.commune_code in (None, *who.communes))
    ),
    "clubs": lambda who, place: place.club_id in who.clubs,
    "funder": lambda who, place: place.funder_id == who.funder_id,
    "bank": lambda who, place: place.bank_code == who.bank_code,
}


def _reach_table() -> dict[tuple[Role, Kind], str]:
    header, *rows = (line.split() for line in EXPECTED_REACH.strip().splitlines())
    kinds = [Kind(name) for name in header[1:]]
    return {
        (Role(row[0]), kind): cell
        for row in rows
        for kind, cell in zip(kinds, row[1:], strict=True)
    }


REACH = _reach_table()
CASES = [(name, kind) for name in PRINCIPALS for kind in Kind]


def test_the_table_covers_every_role_and_kind() -> None:
    assert set(REACH) == {(role, kind) for role in Role for kind in Kind}


@pytest.fixture(scope="module")
def objects() -> Callable[[Principal, Kind], set[str]]:
    """The names of the stored objects a condition selects, on a real table."""
    metadata = MetaData()
    table = Table(
        "objects",
        metadata,
        Column("name", String, primary_key=True),
        Column("province_code", String),
        Column("commune_code", String),
        Column("club_id", Integer),
        Column("funder_id", Integer),
        Column("bank_code", String),
    )
    engine = create_engine("sqlite://")
    metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(
            insert(table), [{"name": name, **vars(place)} for name, place in OBJECTS.items()]
        )
    columns = Place(
        table.c.province_code, table.c.commune_code, table.c.club_id, table.c.funder_id,
        table.c.bank_code,
    )  # fmt: skip

    def selected(principal: Principal, kind: Kind) -> set[str]:
        query = select(table.c.name).where(condition(principal, kind, columns))
        with engine.connect() as connection:
            return set(connection.execute(query).scalars())

    return selected


@pytest.mark.parametrize(("who", "kind"), CASES)
def test_a_principal_sees_what_its_reach_says_one_by_one_and_in_a_query(
    who: str, kind: Kind, objects: Callable[[Principal, Kind], set[str]]
) -> None:
    principal = PRINCIPALS[who]
    sees = SEES[REACH[(principal.role, kind)]]
    expected = {name for name, place in OBJECTS.items() if sees(principal, place)}
    assert {name for name, place in OBJECTS.items() if may_see(principal, kind, place)} == expected
    assert objects(principal, kind) == expected


def test_a_scope_that_names_nothing_reaches_nothing() -> None:
    # A partner without a funder or a bank client without a code sees nothing of its kind.
    for principal, kind in (
        (Principal("p", Role.PARTNER), Kind.FLOW),
        (Principal("b", Role.BANK), Kind.BANK_LOAN),
    ):
        assert not any(may_see(principal, kind, place) for place in OBJECTS.values())


def test_each_role_carries_the_scope_that_names_its_reach() -> None:
    assert {role: set(needed_scope(role)) for role in Role} == {
        Role.ADMIN: set(),
        Role.SERVICE: set(),
        Role.OFFICER: {"provinces"},
        Role.CLUB_MANAGER: {"clubs"},
        Role.PARTNER: {"funder_id"},
        Role.BANK: {"bank_code"},
    }
