from pydantic import BaseModel


class Province(BaseModel):
    code: str
    name: str
    division_type: str


class Commune(BaseModel):
    code: str
    name: str
    division_type: str
    province_code: str


class ResolvedAddress(BaseModel):
    """Where an address written before 1 July 2025 lies today."""

    address: str
    province: Province
    commune: Commune | None
    legacy_province: str | None
    legacy_district: str | None
    legacy_commune: str | None
    note: str | None = None
