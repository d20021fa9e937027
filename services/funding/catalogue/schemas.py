"""What goes over the wire for funders and programmes."""

from datetime import datetime
from typing import Annotated, ClassVar

from pydantic import Field

from common.schemas import InputModel, OutputModel, PatchModel
from services.funding.reference.schemas import FunderTypeCode

Name = Annotated[str, Field(min_length=1, max_length=200)]
ProvinceCode = Annotated[str, Field(pattern=r"^\d{2}$", description="2-digit province code.")]


IatiOrgId = Annotated[
    str,
    Field(
        min_length=3,
        max_length=100,
        pattern=r"^[A-Za-z0-9]{2,}-[A-Za-z0-9._-]+(-[A-Za-z0-9._-]+)*$",
        description="The funder's IATI organisation identifier (registration agency, then "
        "number: `GB-CHC-288180`, `XM-DAC-41304`), used by its IATI export.",
    ),
]


class FunderCreate(InputModel):
    name: Name
    funder_type: FunderTypeCode = Field(
        description="A code of `/api/v1/reference/funder-types`; it sets the funder's source."
    )
    province_code: ProvinceCode | None = Field(
        default=None, description="For provincial and commune budgets: whose budget it is."
    )
    country: Annotated[str, Field(max_length=100)] | None = None
    iati_org_id: IatiOrgId | None = None
    notes: Annotated[str, Field(max_length=2000)] = ""


class FunderUpdate(PatchModel):
    nullable: ClassVar[frozenset[str]] = frozenset({"province_code", "country", "iati_org_id"})

    name: Name | None = None
    province_code: ProvinceCode | None = None
    country: Annotated[str, Field(max_length=100)] | None = None
    iati_org_id: IatiOrgId | None = None
    notes: Annotated[str, Field(max_length=2000)] | None = None


class FunderPublic(OutputModel):
    id: int
    name: str
    funder_type: str = Field(description="A code of `/api/v1/reference/funder-types`.")
    source: str = Field(
        description="The plan column this funder's money counts in: a code of "
        "`/api/v1/reference/sources`."
    )
    province_code: str | None
    country: str | None
    iati_org_id: str | None = None
    notes: str
    created_at: datetime


class ProgrammePublic(OutputModel):
    code: str
    decision: str
    name: str
    start_year: int
    end_year: int
    new_clubs: int | None = Field(description="Clubs to found in the phase.")
    members: int | None = Field(description="Members of the new clubs.")
    older_members: int | None = Field(description="Older people among them.")
    clubs_maintained_pct: int | None
    clubs_running_all_activities_pct: int | None
    members_able_to_borrow_pct: int | None
    clubs_with_both_funds_pct: int | None
    notes: str
