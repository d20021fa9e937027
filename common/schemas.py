"""Base models for what goes over the wire, and the page envelope every list uses."""

from datetime import date
from typing import Annotated, ClassVar, Generic, Self, TypeVar

from fastapi import Depends, Path, Query
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from common import clock
from common.problems import ValidationFailed, field_error

MAX_ID = 2**31 - 1
"""Ids are 32-bit integer columns; larger numbers are refused before they reach the database."""

Id = Annotated[int, Field(ge=1, le=MAX_ID)]
IdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="A positive integer id.")]

EARLIEST_RECORD = date(2000, 1, 1)
"""The programme's records start later (the first clubs were founded in 2006)."""
VIETNAM_DATE = (
    "A date of Vietnam's calendar (Asia/Ho_Chi_Minh), whatever the client's or the server's "
    "time zone"
)

NOT_AFTER_TODAY = f"{VIETNAM_DATE}: not after today there."


def not_in_future(value: date) -> date:
    """A date something happened on: by Vietnam's calendar, not after today, not before 2000."""
    if value > clock.today():
        raise PydanticCustomError("date_in_future", "is in the future")
    if value < EARLIEST_RECORD:
        raise PydanticCustomError("date_too_early", f"is before {EARLIEST_RECORD.isoformat()}")
    return value


PastDate = Annotated[
    date,
    AfterValidator(not_in_future),
    Field(description=f"{VIETNAM_DATE}: not after today there, not before 2000."),
]
"""The day a recorded fact happened (a payment, an entry, a meeting)."""

MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50

T = TypeVar("T")


class InputModel(BaseModel):
    """Request bodies: unknown fields are refused so a client never sets what it should not,
    and numbers that are not finite (`1e400` reads as infinity) are refused on their field."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, allow_inf_nan=False)


class PatchModel(InputModel):
    """A partial update: fields left out stay as they are; `null` only where `nullable` says."""

    nullable: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _no_null_for_required_fields(self) -> Self:
        nulled = sorted(
            name
            for name in self.model_fields_set
            if getattr(self, name) is None and name not in self.nullable
        )
        if nulled:
            raise ValidationFailed(
                f"These fields cannot be null: {', '.join(nulled)}; leave them out instead.",
                errors=[field_error(name, "cannot be null") for name in nulled],
            )
        return self


class OutputModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class PageParams(BaseModel):
    limit: int
    offset: int


def page_params(
    limit: Annotated[
        int, Query(ge=1, le=MAX_PAGE_SIZE, description=f"Page size, at most {MAX_PAGE_SIZE}.")
    ] = DEFAULT_PAGE_SIZE,
    offset: Annotated[int, Query(ge=0, le=10_000_000, description="Rows to skip.")] = 0,
) -> PageParams:
    return PageParams(limit=limit, offset=offset)


PageDep = Annotated[PageParams, Depends(page_params)]


class Page(BaseModel, Generic[T]):
    """One page of a list, with the total number of matching rows."""

    items: list[T]
    total: int
    limit: int
    offset: int
