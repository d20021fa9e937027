"""Provinces and communes in force since 1 July 2025, from the `vietnam-provinces` package."""

from dataclasses import dataclass
from functools import cache

import vietnam_provinces as vp

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
