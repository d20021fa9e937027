"""The indicators as a spreadsheet: one row per indicator (section, indicator, value, share %,
target, met), in XLSX or CSV."""

import csv
import io
from typing import Literal

from openpyxl import Workbook
from openpyxl.styles import Font

from services.funding.indicators.schemas import IndicatorReport, TargetUnit

FileFormat = Literal["json", "xlsx", "csv"]
MEDIA_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}
HEADER = ["section", "indicator", "value", "share %", "target", "met"]
Cell = str | int | float | None


def _target(target: int | None, unit: TargetUnit | None, source: str | None) -> str:
    if target is None:
        return ""
    shown = f"≥ {target} %" if unit is TargetUnit.PERCENT else f"≥ {target:,}"
    return f"{shown} ({source})"


def _met(met: bool | None) -> str:
    return "" if met is None else "met" if met else "not met"


def rows(report: IndicatorReport) -> list[list[Cell]]:
    return [
        [
            item.section.value,
            item.name,
            item.value,
            item.share_pct,
            _target(item.target, item.target_unit, item.target_source),
            _met(item.met),
        ]
        for item in report.indicators
    ]


def title(report: IndicatorReport) -> str:
    area = (
        f"funder {report.funder_id}"
        if report.funder_id is not None
        else f"province {report.province_code}"
        if report.province_code
        else "whole area"
    )
    return (
        f"Programme indicators, {area}, {report.period_from.isoformat()} to "
        f"{report.period_to.isoformat()}"
    )


def to_csv(report: IndicatorReport) -> bytes:
    buffer = io.StringIO()
    # Excel on Windows expects CRLF and recognises UTF-8 only by its BOM.
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADER)
    for row in rows(report):
        writer.writerow(["" if cell is None else cell for cell in row])
    return buffer.getvalue().encode("utf-8-sig")


def to_xlsx(report: IndicatorReport) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None  # a new workbook always has its first sheet
    sheet.title = "Indicators"
    sheet.append([title(report)])
    sheet.cell(1, 1).font = Font(bold=True, size=13)
    sheet.append(HEADER)
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    for row in rows(report):
        sheet.append(row)
    for column, width in zip("ABCDEF", (12, 36, 18, 10, 28, 10), strict=True):
        sheet.column_dimensions[column].width = width
    for (cell,) in sheet.iter_rows(min_row=3, min_col=3, max_col=3):
        cell.number_format = "#,##0"
    sheet.freeze_panes = "A3"
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
