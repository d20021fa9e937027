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

from common.vietnamese import format_number

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


def _document_cell(cell: Cell) -> str | int | float:
    """A cell as a Vietnamese document prints it: 31/12/2018, 1.234.567, 48,9."""
    if isinstance(cell, datetime):
        return cell.strftime("%d/%m/%Y %H:%M")
    if isinstance(cell, date):
        return cell.strftime("%d/%m/%Y")
    if isinstance(cell, int | float) and not isinstance(cell, bool):
        if float(cell).is_integer():
            return format_number(int(cell))
        return format_number(cell, 2).rstrip("0").rstrip(",")  # 48,90 → 48,9
    return _csv_cell(cell)


def to_csv(header: Sequence[str], rows: Sequence[Sequence[Cell]], document: bool = False) -> bytes:
    """`document`: a report people file (to the People's Committee, the ministry), its dates
    and numbers written as Vietnamese documents write them; else as data teams read them
    (ISO dates, a decimal point)."""
    cell_of = _document_cell if document else _csv_cell
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([cell_of(cell) for cell in row])
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
            elif isinstance(cell.value, datetime):
                cell.number_format = "dd/mm/yyyy hh:mm"
            elif isinstance(cell.value, date):
                cell.number_format = "dd/mm/yyyy"  # the reader's Excel shows the days first
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
