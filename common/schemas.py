"""Base models for what goes over the wire, and the page envelope every list uses."""

from datetime import date
from typing import Annotated, Any, ClassVar, Generic, Self, TypeVar

from fastapi import Depends, Path, Query
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

from common import clock
from common.national_id import WELL_FORMED_PATTERN, check_national_id
from common.problem_codes import Code
from common.problems import ValidationFailed, field_error, rule_error
from common.sealing import BLIND_INDEX_LENGTH

MAX_ID = 2**31 - 1
"""Ids are 32-bit integer columns; larger numbers are refused before they reach the database."""

Id = Annotated[int, Field(ge=1, le=MAX_ID)]
IdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="A positive integer id.")]

EARLIEST_RECORD = date(2000, 1, 1)
"""The programme's records start later (the first clubs were founded in 2006)."""
LATEST_RECORD = date(2100, 12, 31)
"""The last day a report may be asked for: keeps date arithmetic away from year 9999."""
EARLIEST_BIRTH = date(1900, 1, 1)
VIETNAM_DATE = (
    "A date of Vietnam's calendar (Asia/Ho_Chi_Minh), whatever the client's or the server's "
    "time zone"
)

NOT_AFTER_TODAY = f"{VIETNAM_DATE}: not after today there."


def not_in_future(value: date) -> date:
    """A date something happened on: by Vietnam's calendar, not after today, not before 2000."""
    if value > clock.today():
        raise rule_error(Code.DATE_IN_FUTURE, "is in the future")
    if value < EARLIEST_RECORD:
        raise rule_error(Code.DATE_TOO_EARLY, f"is before {EARLIEST_RECORD.isoformat()}")
    return value


DAY_SHAPE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_DAY_SHAPE_ERROR = core_schema.union_schema(
    [core_schema.is_instance_schema(date), core_schema.str_schema(pattern=DAY_SHAPE)],
    custom_error_type=Code.DATE_FORMAT.value,
    custom_error_message="Input should be a date written YYYY-MM-DD",
)


class Day:
    """A date field as the API takes it: written `YYYY-MM-DD`, as the document says
    (`format: date`), and nothing else. pydantic alone also takes a number of seconds since
    1970 for a date (`0`, `"86400"`, even in strict mode) and a datetime at midnight. Checked
    in pydantic's core (a bank batch has 40,000 dates); every date a request carries is
    annotated with it (or with `Years`), which tests/test_written_days.py checks route by
    route."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        day = handler(source)
        # The shape is checked first, so strictness (which only refused numbers) is not
        # needed to parse the text that passed.
        step = {**day, "strict": False} if day.get("type") == "date" else day
        return core_schema.chain_schema(
            [_DAY_SHAPE_ERROR, step],
            metadata={"pydantic_js_functions": [lambda _schema, document: document(day)]},
        )


class Years(Day):
    """A date field written `YYYY-MM-DD` (`Day`) whose range the API document states as a
    pattern of its years, so that a client (and a test generator) knows it before it sends;
    the validators enforce the range. `last=None` is the current year in Vietnam (the document
    is rebuilt each day)."""

    def __init__(self, first: date, last: date | None = None) -> None:
        self.first, self.last = first, last

    def __get_pydantic_json_schema__(
        self, schema_of_core: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler(schema_of_core)
        last_year = (self.last or clock.today()).year
        schema["pattern"] = date_pattern(self.first.year, last_year)
        return schema


WrittenDay = Annotated[date, Day()]
"""A date a request carries, with no other bound."""


def date_pattern(first_year: int, last_year: int) -> str:
    """`YYYY-MM-DD` with the year between the two (months 01–12, days 01–31)."""
    years = _digits(f"{first_year:04d}", f"{last_year:04d}")
    return f"^(?:{years})-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])$"


def _digits(low: str, high: str) -> str:
    """A regular expression for the numbers low..high, written with as many digits as both."""
    if low == high:
        return low
    rest = len(low) - 1
    if rest == 0:
        return f"[{low}-{high}]"
    if low[0] == high[0]:
        return low[0] + _group(_digits(low[1:], high[1:]))
    parts, first, last = [], int(low[0]), int(high[0])
    if low[1:] != "0" * rest:
        parts.append(low[0] + _group(_digits(low[1:], "9" * rest)))
        first += 1
    tail = None
    if high[1:] != "9" * rest:
        tail = high[0] + _group(_digits("0" * rest, high[1:]))
        last -= 1
    if first <= last:
        lead = str(first) if first == last else f"[{first}-{last}]"
        parts.append(lead + "[0-9]" * rest)
    if tail:
        parts.append(tail)
    return "|".join(parts)


def _group(expression: str) -> str:
    return f"(?:{expression})" if "|" in expression else expression


PastDate = Annotated[
    date,
    AfterValidator(not_in_future),
    Years(EARLIEST_RECORD),
    Field(description=f"{VIETNAM_DATE}: not after today there, not before 2000."),
]
"""The day a recorded fact happened (a payment, an entry, a meeting)."""
ReportDate = Annotated[
    date, Field(ge=EARLIEST_RECORD, le=LATEST_RECORD), Years(EARLIEST_RECORD, LATEST_RECORD)
]
"""The day or the bounds of a period a report is asked for."""


NationalId = Annotated[
    str,
    Field(
        max_length=20,
        description="The 12-digit citizen ID (CCCD); spaces between digits are removed.",
        json_schema_extra={"pattern": f"^{WELL_FORMED_PATTERN}$"},
    ),
    AfterValidator(check_national_id),
]
"""A citizen ID as members' records and the bank's borrowers carry it."""

BlindIndex = Annotated[
    str,
    Field(
        pattern=f"^[A-Za-z0-9_-]{{{BLIND_INDEX_LENGTH}}}$",
        description="A citizen ID's blind index: HMAC-SHA256 with the platform's index key, "
        "its first 16 bytes in base64url.",
    ),
]

MAX_PAGE_SIZE = 1000
"""Bulk readers (the bank's nightly reconciliation, a partner's monthly pull) read by cursor in
pages this large."""
DEFAULT_PAGE_SIZE = 50
MAX_IDS = 200
"""Ids asked for at once in a query string (`?ids=…`): 200 stay well within a request line."""
CURSOR_PATTERN = "^[A-Za-z0-9_-]+$"

T = TypeVar("T")


JSON_SCALARS = frozenset({"bool", "int", "float"})
"""The core schemas whose values a request body gives as JSON writes them, and only so."""


def _as_json_writes(schema: Any, model: type[BaseModel]) -> None:
    """Makes the booleans and the numbers of this model's own fields strict: a JSON body gives
    them as they are typed, and pydantic's lax mode would also read `0` or `"yes"` as a
    boolean, `false` as the number 0 and `"12"` as 12, which the API document does not allow.
    Nested models are left to their own class."""
    if isinstance(schema, list):
        for item in schema:
            _as_json_writes(item, model)
        return
    if not isinstance(schema, dict):
        return
    if schema.get("type") == "model" and schema.get("cls") is not model:
        return
    if schema.get("type") in JSON_SCALARS:
        schema["strict"] = True
    for key, value in schema.items():
        if key not in ("metadata", "serialization", "cls"):
            _as_json_writes(value, model)


class InputModel(BaseModel):
    """Request bodies: unknown fields are refused so a client never sets what it should not,
    numbers that are not finite (`1e400` reads as infinity) are refused on their field, and
    booleans and numbers are taken only as JSON writes them (`_as_json_writes`)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, allow_inf_nan=False)

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: type[BaseModel], handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        schema = handler(source)
        _as_json_writes(schema, cls)
        return schema


def _null_only_where_allowed(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """The document of a partial update: a field that cannot be null is typed without null."""
    nullable: frozenset[str] = getattr(model, "nullable", frozenset())
    for name, field_schema in schema.get("properties", {}).items():
        branches = field_schema.get("anyOf")
        if name in nullable or not branches or {"type": "null"} not in branches:
            continue
        kept = [branch for branch in branches if branch != {"type": "null"}]
        del field_schema["anyOf"]
        if field_schema.get("default", ...) is None:
            del field_schema["default"]
        if len(kept) == 1:
            field_schema.update(kept[0])
        else:
            field_schema["anyOf"] = kept


class PatchModel(InputModel):
    """A partial update: fields left out stay as they are; `null` only where `nullable` says."""

    model_config = ConfigDict(json_schema_extra=_null_only_where_allowed)
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
                errors=[
                    field_error(name, "cannot be null", code=Code.NULL_NOT_ALLOWED)
                    for name in nulled
                ],
            )
        return self


class OutputModel(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class PageParams(BaseModel):
    limit: int
    offset: int = 0
    cursor: str | None = None


async def page_params(
    limit: Annotated[
        int, Query(ge=1, le=MAX_PAGE_SIZE, description=f"Page size, at most {MAX_PAGE_SIZE}.")
    ] = DEFAULT_PAGE_SIZE,
    offset: Annotated[
        int,
        Query(ge=0, le=10_000_000, description="Rows to skip (a cursor is better: see `cursor`)."),
    ] = 0,
    cursor: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=1000,
            pattern=CURSOR_PATTERN,
            description="Where to go on: the `next_cursor` of the previous page, with the same "
            "filters and sort. Pages read by cursor neither skip nor repeat a row whatever "
            "changes meanwhile, and a late page is as fast as the first.",
        ),
    ] = None,
) -> PageParams:
    # Async: checking three numbers is not worth a trip to the thread pool, which every list
    # would otherwise pay.
    if cursor is not None and offset:
        raise ValidationFailed(
            "A page is found by offset or by cursor, not both.",
            errors=[
                field_error(
                    "offset", "is not used with a cursor", "query", code=Code.MUTUALLY_EXCLUSIVE
                )
            ],
        )
    return PageParams(limit=limit, offset=offset, cursor=cursor)


PageDep = Annotated[PageParams, Depends(page_params)]


class Page(BaseModel, Generic[T]):
    """One page of a list, with the total number of matching rows."""

    items: list[T]
    total: int
    limit: int
    offset: int
    next_cursor: str | None = Field(
        default=None,
        description="Pass it as `cursor` (with the same filters and sort) for the next page; "
        "null on the last page.",
    )
    sync_token: str | None = Field(
        default=None,
        description="On the lists a front end keeps offline: pass it as `changed_since` on the "
        "next sync to get only what changed after this read (the same on every page of a read).",
    )
    removed: list[int] | None = Field(
        default=None,
        description="In a sync (`changed_since`) of a list whose rows can be deleted: the ids "
        "deleted since the token, on the first page.",
    )
