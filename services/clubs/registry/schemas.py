from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints

from common.schemas import Id, InputModel, OutputModel, PastDate, PatchModel
from services.clubs.domain import ClubStatus

ClubCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{1,39}$")]
ProvinceCode = Annotated[str, StringConstraints(pattern=r"^\d{2}$")]
CommuneCode = Annotated[str, StringConstraints(pattern=r"^\d{5}$")]
ClubSort = Literal[
    "code",
    "-code",
    "name",
    "-name",
    "founding_decision_date",
    "-founding_decision_date",
    "created_at",
    "-created_at",
]


class ClubCreate(InputModel):
    code: ClubCode = Field(description="Unique code of the club, e.g. LC-BT-001.")
    name: str = Field(min_length=1, max_length=200)
    province_code: ProvinceCode
    commune_code: CommuneCode
    village: str = Field(default="", max_length=200)
    founding_decision_number: str | None = Field(default=None, max_length=60)
    founding_decision_date: PastDate | None = None
    programme_phase: str | None = Field(default=None, max_length=40, description="e.g. 1336/QĐ-TTg")
    quota_profile_id: Id | None = Field(default=None, description="Default profile if left out.")
    status: Literal[ClubStatus.PLANNED, ClubStatus.ACTIVE] = ClubStatus.PLANNED
    legacy_address: str | None = Field(
        default=None, max_length=500, description="The address as written before July 2025."
    )


class ClubUpdate(PatchModel):
    nullable = frozenset(
        {"founding_decision_number", "founding_decision_date", "programme_phase", "legacy_address"}
    )

    name: str | None = Field(default=None, min_length=1, max_length=200)
    province_code: ProvinceCode | None = None
    commune_code: CommuneCode | None = None
    village: str | None = Field(default=None, max_length=200)
    founding_decision_number: str | None = Field(default=None, max_length=60)
    founding_decision_date: PastDate | None = None
    programme_phase: str | None = Field(default=None, max_length=40)
    quota_profile_id: Id | None = None
    legacy_address: str | None = Field(default=None, max_length=500)


class StatusChange(InputModel):
    status: ClubStatus
    reason: str = Field(default="", max_length=500)


class ClubPublic(OutputModel):
    id: int
    code: str
    name: str
    province_code: str
    province_name: str
    commune_code: str
    commune_name: str
    village: str
    founding_decision_number: str | None
    founding_decision_date: date | None
    programme_phase: str | None
    quota_profile_id: int
    status: ClubStatus
    legacy_address: str | None
    former_province_code: str | None = Field(
        description="The province it was in before the 2025 merger (its code of then)."
    )
    former_district_code: str | None = Field(
        description="Its former district (code of then): from the pre-2025 address, or from the "
        "commune when that lay in one former district; null where it cannot be told."
    )
    created_at: datetime
    updated_at: datetime


class AuditEntryPublic(OutputModel):
    id: int
    entity: str
    entity_id: int
    action: str
    actor: str
    request_id: str | None
    at: datetime
    before: dict[str, Any] | None
    after: dict[str, Any] | None
