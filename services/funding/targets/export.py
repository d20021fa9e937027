"""The target report as a spreadsheet for the provincial office, in Vietnamese: one row per
target (indicator, area, period, target, figure, result, gap, and the two years before)."""

from common import export
from common.export import Cell
from common.vietnamese import format_number, format_percent
from services.funding.targets.catalogue import CATALOGUE, Unit
from services.funding.targets.report import NOT_COUNTED_AT
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


def _number(value: float, unit: Unit) -> str:
    """60 → `60 %` for a share, 2000 → `2.000`, as the plans print them."""
    if unit is Unit.SHARE:
        return format_percent(value)
    return format_number(value, 0 if float(value).is_integer() else 2)


def _bound(result: TargetResult) -> str:
    target = result.target
    low, high = target.minimum, target.maximum
    if low is not None and high is not None:
        shown = f"{_number(low, target.unit)} – {_number(high, target.unit)}"
    elif low is not None:
        shown = f"≥ {_number(low, target.unit)}"
    else:
        assert high is not None  # a target has a bound
        shown = f"≤ {_number(high, target.unit)}"
    return f"{shown} mỗi năm" if target.each_year else shown


def _note(result: TargetResult) -> str | None:
    """The target's wording in the plan, or why it has no figure, in Vietnamese."""
    if result.verdict is Verdict.NOT_COUNTED:
        level = LEVELS[result.target.area.level.value].lower()
        return (
            f"Chưa có số liệu ở cấp {level}"
            if result.missing and result.missing.startswith(NOT_COUNTED_AT)
            else "Dịch vụ cung cấp số liệu chưa trả lời, hoặc mẫu số bằng 0"
        )
    return result.target.wording


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
                _note(result),
            ]
        )
    return found


def title(report: TargetReport) -> str:
    owner = report.heading or (
        f"kế hoạch số {report.plan_id}"
        if report.plan_id is not None
        else f"đề án {report.programme_code}"
    )
    return f"Kết quả thực hiện chỉ tiêu: {owner}; đến ngày {report.on.strftime('%d/%m/%Y')}"


def to_xlsx(report: TargetReport) -> bytes:
    return export.to_xlsx(
        title(report),
        "Chỉ tiêu",
        HEADER,
        rows(report),
        widths=(40, 26, 26, 12, 12, 16, 12, 16, 14, 14, 14, 40),
    )


def to_csv(report: TargetReport) -> bytes:
    return export.to_csv(HEADER, rows(report), document=True)
