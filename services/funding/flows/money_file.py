"""Money lists as files for a data team's spreadsheet: every row the query asks for, flat, with
the period asked for and the funder's name in every row, numbers as numbers and booleans as
booleans (`format=csv|xlsx` on commitments, receipts and allocations)."""

from datetime import date, datetime
from enum import Enum
from typing import Any, Protocol

from fastapi import Response
from pydantic import BaseModel
from sqlmodel import Session, col, select

from common import export
from common.export import Cell, FileFormat
from common.problem_codes import Code
from common.problems import invalid
from services.funding.catalogue.models import Funder

MAX_FILE_ROWS = 100_000
"""More than a province's money of a decade: a larger file asks for a shorter period."""


class Period(Protocol):
    """The window a money list was asked for (its `from` and `to`)."""

    @property
    def date_from(self) -> date | None: ...

    @property
    def date_to(self) -> date | None: ...


def rows_of(session: Session, query: Any) -> list[Any]:
    """The rows of `query`, at most `MAX_FILE_ROWS` (422 on `to` beyond: a shorter period)."""
    rows = list(session.exec(query.limit(MAX_FILE_ROWS + 1)).all())
    if len(rows) > MAX_FILE_ROWS:
        reason = f"the period holds more than {MAX_FILE_ROWS:,} rows: ask for a shorter one"
        raise invalid("to", reason, "query", code=Code.TOO_MANY_ROWS)
    return rows


def _cell(value: Any) -> Cell:
    """A field as a spreadsheet cell: enums as their values, dates as dates."""
    if isinstance(value, Enum):
        return str(value.value)
    if value is None or isinstance(value, str | int | float | bool | date | datetime):
        return value
    return str(value)


def answer(
    session: Session,
    public: type[BaseModel],
    items: list[Any],
    period: Period,
    file_format: FileFormat,
) -> Response:
    """The file of a money list: the period asked for and the funder's name, then every field."""
    fields = list(public.model_fields)
    funder_ids = sorted({item.funder_id for item in items})
    names = dict(
        session.exec(select(Funder.id, Funder.name).where(col(Funder.id).in_(funder_ids))).all()
    )
    header = ["period_from", "period_to", "funder_name", *fields]
    rows = [
        [period.date_from, period.date_to, names.get(item.funder_id),
         *(_cell(getattr(item, name)) for name in fields)]
        for item in items
    ]  # fmt: skip
    kind = public.__name__.removesuffix("Public").lower()
    asked = f"{period.date_from or 'the start'} to {period.date_to or 'today'}"
    title = f"{kind.capitalize()}s, {asked}"
    if file_format == "xlsx":
        data = export.to_xlsx(title, f"{kind}s", header, rows)
    else:
        data = export.to_csv(header, rows)
    return export.file_answer(data, file_format, f"{kind}s")
