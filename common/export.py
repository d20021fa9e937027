"""Answers as files for people's spreadsheets: a title, a header and flat rows, as CSV or XLSX.

Numbers stay numbers, booleans booleans and dates dates in a workbook, so a data team's pivot
table sums and filters them without retyping; CSV is UTF-8 with a BOM and CRLF, which Excel on
Windows reads as written.
"""

import csv
import io
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, Literal

from fastapi import Response
from openpyxl import Workbook
from openpyxl.styles import Font

FileFormat = Literal["json", "xlsx", "csv"]
MEDIA_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}
FILE_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {"content": {media: {} for media in MEDIA_TYPES.values()}}
}
"""The operation's document: besides JSON, it answers these files."""
Cell = str | int | float | bool | date | datetime | None


def _csv_cell(cell: Cell) -> str | int | float:
    if cell is None:
        return ""
    if isinstance(cell, bool):
        return "true" if cell else "false"
    if isinstance(cell, date | datetime):
        return cell.isoformat()
    return cell


def to_csv(header: Sequence[str], rows: Sequence[Sequence[Cell]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_csv_cell(cell) for cell in row])
    return buffer.getvalue().encode("utf-8-sig")


def _xlsx_cell(cell: Cell) -> Cell:
    # A workbook holds no time zone: moments are written as UTC without one.
    if isinstance(cell, datetime) and cell.tzinfo is not None:
        return cell.replace(tzinfo=None)
    return cell


def to_xlsx(
    title: str,
    sheet_name: str,
    header: Sequence[str],
    rows: Sequence[Sequence[Cell]],
    widths: Sequence[int] = (),
) -> bytes:
    """A workbook: the title in bold, the header in bold and frozen, then the rows."""
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None  # a new workbook always has its first sheet
    sheet.title = sheet_name
    sheet.append([title])
    sheet.cell(1, 1).font = Font(bold=True, size=13)
    sheet.append(list(header))
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append([_xlsx_cell(cell) for cell in row])
    for line in sheet.iter_rows(min_row=3):
        for cell in line:
            if isinstance(cell.value, int) and not isinstance(cell.value, bool):
                cell.number_format = "#,##0"  # đồng read with thousands separators
    for index, width in enumerate(widths, start=1):
        sheet.column_dimensions[sheet.cell(2, index).column_letter].width = width
    sheet.freeze_panes = "A3"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def file_answer(data: bytes, file_format: FileFormat, name: str) -> Response:
    """The file as an attachment named `name` (with its extension added)."""
    return Response(
        data,
        media_type=MEDIA_TYPES[file_format],
        headers={"Content-Disposition": f'attachment; filename="{name}.{file_format}"'},
    )
