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
