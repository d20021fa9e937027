"""Pre-2025 addresses (province–district–commune, 63 provinces) to today's units."""

from dataclasses import dataclass

from vietnamadminunits import convert_address, parse_address

from common import places


@dataclass(frozen=True)
class Resolution:
    province_code: str | None
    commune_code: str | None
    legacy_province: str | None
    legacy_district: str | None
    legacy_commune: str | None


def _legacy_parts(address: str) -> tuple[str | None, str | None, str | None]:
    try:
        parsed = parse_address(address, mode="LEGACY")
    except (ValueError, KeyError, AttributeError):
        return None, None, None
    return parsed.province, parsed.district, parsed.ward


def resolve(address: str) -> Resolution:
    """Today's province and commune codes of an old address; None where it cannot be told."""
    try:
        converted = convert_address(address)
        province_code, commune_code = converted.province_code, converted.ward_code
    except (ValueError, KeyError, AttributeError):
        province_code = commune_code = None
    if province_code not in places.provinces():
        province_code = commune_code = None
    if commune_code not in places.communes():
        commune_code = None
    return Resolution(province_code, commune_code, *_legacy_parts(address))


@dataclass(frozen=True)
class FormerPlace:
    """Where a club was before the 2025 merger: its former province and district (None where it
    cannot be told)."""

    province_code: str | None
    district_code: str | None


def former_place(commune_code: str, legacy_address: str | None) -> FormerPlace:
    """The club's former province and district: from its pre-2025 address where it has one,
    else from its commune, when the commune's territory lay in one former district (the merger
    joined some communes across districts: then the district is not known)."""
    if legacy_address:
        try:
            parsed = parse_address(legacy_address, mode="LEGACY")
            district = parsed.district_code or None
            province = parsed.province_code or None
        except (ValueError, KeyError, AttributeError):
            district = province = None
        known_district = district if district in places.former_districts() else None
        if known_district is not None or province in places.former_provinces():
            return FormerPlace(province, known_district)
    districts = places.former_districts_of().get(commune_code, frozenset())
    provinces = {places.former_districts()[d].province_code for d in districts}
    return FormerPlace(
        next(iter(provinces)) if len(provinces) == 1 else None,
        next(iter(districts)) if len(districts) == 1 else None,
    )
