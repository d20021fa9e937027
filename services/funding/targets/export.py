"""The target report as a spreadsheet for the provincial office, in Vietnamese: one row per
target (indicator, area, period, target, figure, result, gap, and the two years before)."""

from common import export
from common.export import Cell
from services.funding.targets.catalogue import CATALOGUE, Unit
from services.funding.targets.schemas import TargetReport, TargetResult, Verdict

HEADER = [
    "Chỉ tiêu",
    "Mã chỉ tiêu",
    "Địa bàn",
    "Từ ngày",
    "Đến ngày",
    "Mục tiêu",
    "Kết quả",
    "Đánh giá",
    "Còn thiếu / vượt",
    "Cùng kỳ năm trước",
    "Cùng kỳ hai năm trước",
    "Ghi chú",
]
VERDICTS = {
    Verdict.MET: "Đạt",
    Verdict.NOT_MET: "Chưa đạt",
    Verdict.NOT_COUNTED: "Chưa có số liệu",
    Verdict.NOT_STARTED: "Chưa đến kỳ",
}
LEVELS = {
    "nation": "Toàn quốc",
    "province": "Tỉnh",
    "commune": "Xã",
    "former_province": "Tỉnh (trước sáp nhập)",
    "former_district": "Huyện (trước sáp nhập)",
}


def _bound(result: TargetResult) -> str:
    target = result.target
    suffix = " %" if target.unit is Unit.SHARE else ""
    low, high = target.minimum, target.maximum
    if low is not None and high is not None:
        shown = f"{low:g}–{high:g}{suffix}"
    elif low is not None:
        shown = f"≥ {low:g}{suffix}"
    else:
        shown = f"≤ {high:g}{suffix}"
    return f"{shown} mỗi năm" if target.each_year else shown


def _area(result: TargetResult) -> str:
    area = result.target.area
    named = area.name or area.code or ""
    return f"{LEVELS[area.level.value]} {named}".strip()


def rows(report: TargetReport) -> list[list[Cell]]:
    found: list[list[Cell]] = []
    for result in report.results:
        previous = [item.figure for item in result.previous] + [None, None]
        found.append(
            [
                CATALOGUE[result.target.indicator].name_vi,
                result.target.indicator,
                _area(result),
                result.period_from,
                result.period_to,
                _bound(result),
                result.figure,
                VERDICTS[result.verdict],
                result.gap,
                previous[0],
                previous[1],
                result.missing or result.target.wording,
            ]
        )
    return found


def title(report: TargetReport) -> str:
    owner = (
        f"kế hoạch {report.plan_id}"
        if report.plan_id is not None
        else f"đề án {report.programme_code}"
    )
    return f"Kết quả thực hiện chỉ tiêu {owner}, đến ngày {report.on.strftime('%d/%m/%Y')}"


def to_xlsx(report: TargetReport) -> bytes:
    return export.to_xlsx(
        title(report),
        "Chỉ tiêu",
        HEADER,
        rows(report),
        widths=(40, 26, 26, 12, 12, 16, 12, 16, 14, 14, 14, 40),
    )


def to_csv(report: TargetReport) -> bytes:
    return export.to_csv(HEADER, rows(report))
