"""Vietnam's administrative units: the provinces and communes in force since 1 July 2025 (from the
`vietnam-provinces` package), shared by the services that name places (clubs, plans' targets)."""

import sqlite3
from dataclasses import dataclass
from functools import cache
from importlib import resources

import orjson
import vietnam_provinces as vp
from vietnamadminunits import convert_address

from common.text import fold


@dataclass(frozen=True)
class Unit:
    code: str
    name: str
    division_type: str
    province_code: str
    folded_name: str


def _province_code(value: int) -> str:
    return f"{value:02d}"


def _commune_code(value: int) -> str:
    return f"{value:05d}"


@cache
def provinces() -> dict[str, Unit]:
    units = (
        Unit(
            _province_code(p.code.value),
            p.name,
            p.division_type.value,
            _province_code(p.code.value),
            fold(p.name),
        )
        for p in vp.Province.iter_all()
    )
    return {unit.code: unit for unit in sorted(units, key=lambda u: u.code)}


@cache
def communes() -> dict[str, Unit]:
    units = (
        Unit(
            _commune_code(w.code.value),
            w.name,
            w.division_type.value,
            _province_code(w.province_code.value),
            fold(w.name),
        )
        for w in vp.Ward.iter_all()
    )
    return {unit.code: unit for unit in sorted(units, key=lambda u: u.code)}


@cache
def communes_by_province() -> dict[str, list[Unit]]:
    grouped: dict[str, list[Unit]] = {code: [] for code in provinces()}
    for unit in communes().values():
        grouped[unit.province_code].append(unit)
    return grouped


def search(units: list[Unit], query: str | None) -> list[Unit]:
    if not query:
        return units
    wanted = fold(query)
    return [unit for unit in units if wanted in unit.folded_name]


@dataclass(frozen=True)
class FormerUnit:
    """A province or district as it stood before the 2025 merger (plans written before it keep
    their territory): its code of then, its name, the former province it was in, and the
    province it is part of today (provinces merged whole)."""

    code: str
    name: str
    province_code: str
    today_province_code: str


def _dataset(query: str) -> list[tuple[str, ...]]:
    """Rows of the `vietnamadminunits` package's tables of the units before and since the
    merger (`admin_units_legacy`, `admin_units`)."""
    dataset = resources.files("vietnamadminunits") / "data" / "dataset.db"
    with resources.as_file(dataset) as path:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = connection.execute(query).fetchall()
        finally:
            connection.close()
    return [tuple(str(value) for value in row) for row in rows]


def _former_units() -> list[tuple[str, ...]]:
    """(province code, province, district code, district) of every former district."""
    return _dataset(
        "SELECT DISTINCT provinceCode, province, districtCode, district "
        "FROM admin_units_legacy WHERE districtCode IS NOT NULL AND districtCode != ''"
    )


@cache
def former_districts_of() -> dict[str, frozenset[str]]:
    """Today's commune code → the former districts its territory was in (usually one; two or
    more where the merger joined wards of several), from the package's conversion table."""
    # The two packages number some communes differently: ours are matched by name first,
    # then by the code where the names are written apart ("Chân Mây – Lăng Cô").
    ours = {(unit.province_code, unit.folded_name): code for code, unit in communes().items()}
    today = {
        (province_key, ward_key): ours.get((province, fold(name)))
        or (code if code in communes() and communes()[code].province_code == province else None)
        for province_key, ward_key, province, name, code in _dataset(
            "SELECT provinceKey, wardKey, provinceCode, ward, wardCode FROM admin_units"
        )
    }
    districts = {
        (province, district): code
        for province, district, code in _dataset(
            "SELECT DISTINCT provinceKey, districtKey, districtCode FROM admin_units_legacy "
            "WHERE districtCode IS NOT NULL AND districtCode != ''"
        )
    }
    conversion = orjson.loads(
        (resources.files("vietnamadminunits") / "data" / "converter_2025.json").read_bytes()
    )
    found: dict[str, set[str]] = {}

    def add(province: str, ward: str, old: str) -> None:
        old_province, old_district, _ = old.split("_")
        code, district = today.get((province, ward)), districts.get((old_province, old_district))
        if code is not None and district is not None:
            found.setdefault(code, set()).add(district)

    for province, wards in conversion["DICT_PROVINCE_WARD_NO_DIVIDED"].items():
        for ward, olds in wards.items():
            for old in olds:
                add(province, ward, old)
    for province, olds in conversion["DICT_PROVINCE_WARD_DIVIDED"].items():
        for old, parts in olds.items():
            for part in parts:
                add(province, part["newWardKey"], old)
    return {code: frozenset(codes) for code, codes in found.items()}


def _today(former_province: str) -> str:
    return str(convert_address(former_province).province_code)


@cache
def former_provinces() -> dict[str, FormerUnit]:
    names = {p: name for p, name, _, _ in _former_units()}
    found = {p: FormerUnit(p, name, p, _today(name)) for p, name in names.items()}
    return dict(sorted(found.items()))


@cache
def former_districts() -> dict[str, FormerUnit]:
    provinces_then = former_provinces()
    found = {
        d: FormerUnit(d, name, p, provinces_then[p].today_province_code)
        for p, _, d, name in _former_units()
    }
    return dict(sorted(found.items()))
