"""The indicators as a spreadsheet: one row per indicator (section, indicator, value, share %,
target, met), in XLSX or CSV."""

from common import export
from common.export import Cell
from services.funding.indicators.schemas import IndicatorReport, TargetUnit

HEADER = ["section", "indicator", "value", "share %", "target", "met"]


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
    return export.to_csv(HEADER, rows(report))


def to_xlsx(report: IndicatorReport) -> bytes:
    workbook = export.to_xlsx(
        title(report), "Indicators", HEADER, rows(report), widths=(12, 36, 18, 10, 28, 10)
    )
    return workbook
