"""What goes over the wire for the reference lists, and the code every list item has."""

from datetime import datetime
from typing import Annotated

from pydantic import Field

from common.schemas import InputModel, OutputModel, PatchModel

CODE_PATTERN = r"^[a-z][a-z0-9_]{1,29}$"
Code = Annotated[
    str,
    Field(
        pattern=CODE_PATTERN,
        description="A code of a reference list (`/api/v1/reference/{kind}`), in snake_case.",
    ),
]
ActivityCode = Annotated[
    str,
    Field(
        pattern=CODE_PATTERN,
        description="What a budget line pays for: a code of `/api/v1/reference/activities`.",
    ),
]
SourceCode = Annotated[
    str,
    Field(
        pattern=CODE_PATTERN,
        description="A source column of a budget table: a code of `/api/v1/reference/sources`.",
    ),
]
FunderTypeCode = Annotated[
    str,
    Field(
        pattern=CODE_PATTERN,
        description="Who a funder is: a code of `/api/v1/reference/funder-types`.",
    ),
]
Name = Annotated[str, Field(min_length=1, max_length=200)]


class ReferenceItemCreate(InputModel):
    code: Code = Field(description="Stable: records keep it; it cannot change later.")
    name_vi: Name = Field(description="The Vietnamese name, as tables and exports show it.")
    name_en: Name = Field(description="The English name.")
    source: SourceCode | None = Field(
        default=None,
        description="Funder types only, and required there: the source column their money "
        "counts in.",
    )


class ReferenceItemUpdate(PatchModel):
    name_vi: Name | None = None
    name_en: Name | None = None
    retired: bool | None = Field(
        default=None,
        description="A retired item is refused for new records; the records naming it keep it.",
    )


class ReferenceItemPublic(OutputModel):
    kind: str
    code: str
    name_vi: str
    name_en: str
    source: str | None = Field(description="For funder types: their source column.")
    retired: bool
    created_at: datetime
