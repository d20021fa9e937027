"""Reading a club's member list from CSV or XLSX, the way boards keep them today.

Headers may be Vietnamese or English and are matched ignoring case, diacritics and
punctuation; cell values are turned into the values the JSON API takes (`Nữ` → `female`,
`Hộ cận nghèo` → `near_poor`, `x` → true, `20/05/1955` → a date), so the rows are then judged
by exactly the same validation as a POST. Row numbers are those the user sees in the sheet.
"""

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from openpyxl.utils.datetime import from_excel

from common.problem_codes import Code
from common.problems import ValidationFailed, field_error
from common.spreadsheets import (
    Format,
    SheetKind,
    Upload,
    cell_text,
    file_refused,
    label_key,
    read_rows,
)

MAX_ROWS = 5000
HEADER_SEARCH_ROWS = 20
"""Sheets often carry a title and the club's name above the header row."""
MEMBER_LIST = SheetKind(
    name="member list",
    # One header row (and a few title rows) come on top of the member rows.
    max_rows=MAX_ROWS + HEADER_SEARCH_ROWS,
    too_many_rows=f"has more than {MAX_ROWS} member rows; split it into several files",
    # 5,000 members take a few MB inside an .xlsx; anything far larger is not a member list.
    max_unpacked_bytes=200 * 2**20,
)

# field → the headers that give it (any case, with or without diacritics).
FIELD_HEADERS: dict[str, tuple[str, ...]] = {
    "full_name": ("Họ và tên", "Họ tên", "Họ và tên hội viên", "full_name", "name"),
    "gender": ("Giới tính", "Nam/Nữ", "gender", "sex"),
    "birth_date": ("Ngày sinh", "Ngày tháng năm sinh", "date_of_birth", "birth_date", "dob"),
    "birth_year": ("Năm sinh", "birth_year", "year_of_birth"),
    # "Hộ nghèo/cận nghèo" and "Hộ nghèo, cận nghèo" fold alike (punctuation is dropped).
    "household_status": (
        "Hoàn cảnh gia đình",
        "Hoàn cảnh",
        "Hộ",
        "Phân loại hộ",
        "Phân loại hộ gia đình",
        "Loại hộ",
        "Diện hộ",
        "Hộ nghèo/cận nghèo",
        "Hộ nghèo/hộ cận nghèo",
        "Hộ nghèo/cận nghèo/khó khăn",
        "Hộ nghèo, cận nghèo, hoàn cảnh khó khăn",
        "household_status",
        "household",
    ),
    "national_id": (
        "Số CCCD",
        "CCCD",
        "Số căn cước",
        "Số căn cước công dân",
        "Số định danh cá nhân",
        "Số CMND/CCCD",
        "CMND/CCCD",
        "national_id",
        "citizen_id",
    ),
    "phone": ("Số điện thoại", "Điện thoại", "SĐT", "phone", "phone_number"),
    "joined_on": ("Ngày tham gia", "Ngày vào", "Ngày vào CLB", "joined_on", "join_date"),
    "board_role": ("Chức vụ", "Chức vụ trong ban chủ nhiệm", "board_role", "role"),
    "home_care_volunteer": (
        "TNV chăm sóc tại nhà",
        "Tình nguyện viên chăm sóc tại nhà",
        "home_care_volunteer",
    ),
    "income_generation_volunteer": (
        "TNV tạo thu nhập",
        "Tình nguyện viên tạo thu nhập",
        "income_generation_volunteer",
    ),
    # The paper consent form: its number and date give the consent to membership; a mark in
    # the other two columns, the consents the same form ticks.
    "consent_form": ("Số phiếu đồng ý", "Phiếu đồng ý", "consent_form"),
    "consent_date": ("Ngày đồng ý", "Ngày ký phiếu đồng ý", "consent_date"),
    "consent_bank_matching": (
        "Đồng ý đối chiếu với NHCSXH",
        "Đối chiếu NHCSXH",
        "consent_bank_matching",
    ),
    "consent_funder_figures": (
        "Đồng ý chia sẻ số liệu với nhà tài trợ",
        "Chia sẻ số liệu với nhà tài trợ",
        "consent_funder_figures",
    ),
}
CONSENT_FLAGS = {
    "consent_bank_matching": "bank_matching",
    "consent_funder_figures": "funder_figures",
}
ROW_NUMBER_HEADERS = ("STT", "TT", "Số TT", "No")
"""The sheet's own row numbers: not imported, and nothing is lost by it."""
NOT_IMPORTED_HEADERS = (
    "Ghi chú",
    "notes",
    "note",
    "Dân tộc",
    "Thôn/xóm",
    "Thôn",
    "Xóm",
    "Tổ dân phố",
    "Thôn/tổ dân phố",
    "Địa chỉ",
    "Nơi ở",
    "Quê quán",
    "Nghề nghiệp",
    "Chữ ký",
    "Ký tên",
)
"""Columns boards keep that a membership does not hold: read past, each named in a warning.
A column known to nobody is read past too, with a warning that says so."""
REQUIRED_FIELDS = ("full_name", "gender", "household_status", "consent_form", "consent_date")

GENDERS = {
    "nu": "female",
    "female": "female",
    "f": "female",
    "nam": "male",
    "male": "male",
    "m": "male",
}
HOUSEHOLDS = {
    "ho ngheo": "poor",
    "ngheo": "poor",
    "poor": "poor",
    "ho can ngheo": "near_poor",
    "can ngheo": "near_poor",
    "near poor": "near_poor",
    "hoan canh kho khan": "disadvantaged",
    "ho kho khan": "disadvantaged",
    "kho khan": "disadvantaged",
    "disadvantaged": "disadvantaged",
    "khong": "none",
    "binh thuong": "none",
    "ho binh thuong": "none",
    "khong ngheo": "none",
    "ho khong ngheo": "none",
    "none": "none",
}
BOARD_ROLES = {
    "chu nhiem": "chair",
    "chair": "chair",
    "pho chu nhiem": "vice_chair",
    "vice chair": "vice_chair",
    "ke toan": "accountant",
    "accountant": "accountant",
    "thu quy": "treasurer",
    "treasurer": "treasurer",
    "to truong": "group_leader",
    "group leader": "group_leader",
}
YES = frozenset({"x", "co", "yes", "y", "1", "true", "v"})
NO = frozenset({"", "khong", "no", "n", "0", "false", "-"})


HEADER_FIELDS = {
    label_key(header): name for name, headers in FIELD_HEADERS.items() for header in headers
}
# Headers that fold to the same letters as another word: "Hộ" (household) and "Họ" (family
# name, in sheets that split the name) both fold to "ho", so their diacritics must match.
SPELLED_OUT = {"ho": "hộ"}


def field_for(header: str) -> str | None:
    """The field a header gives, or None for an unknown header."""
    folded = label_key(header)
    spelled = " ".join(unicodedata.normalize("NFC", header).lower().split())
    if folded in SPELLED_OUT and spelled not in (folded, SPELLED_OUT[folded]):
        return None
    return HEADER_FIELDS.get(folded)


ROW_NUMBER_KEYS = frozenset(label_key(header) for header in ROW_NUMBER_HEADERS)
NOT_IMPORTED_KEYS = frozenset(label_key(header) for header in NOT_IMPORTED_HEADERS)
_DATE_DMY = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})$")
_DATE_YMD = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_YEAR = re.compile(r"^\d{4}$")


@dataclass
class Sheet:
    """The rows of the first worksheet (or the CSV), each with its row number."""

    format: Format
    rows: list[tuple[int, list[Any]]]


WarningCode = Literal["column_not_imported", "unknown_column"]


@dataclass(frozen=True)
class ColumnWarning:
    """A column read past: its header as written (never a cell of it) and why."""

    column: str
    code: WarningCode
    message: str


NOT_IMPORTED = "not imported: a membership does not hold it"
UNKNOWN = "not imported: no member field has this header"


@dataclass
class Columns:
    """Where each field is in the sheet, found from the header row."""

    header_row: int
    by_field: dict[str, int]
    headers: list[str]
    ignored: list[str] = field(default_factory=list)
    warnings: list[ColumnWarning] = field(default_factory=list)

    def read_past(self, header: str) -> None:
        """A column that is not imported: row numbers silently, anything else with a
        warning, so a board sees what the platform did not keep."""
        self.ignored.append(header)
        key = label_key(header)
        if key in ROW_NUMBER_KEYS:
            return
        if key in NOT_IMPORTED_KEYS:
            self.warnings.append(ColumnWarning(header, "column_not_imported", NOT_IMPORTED))
        else:
            self.warnings.append(ColumnWarning(header, "unknown_column", UNKNOWN))

    def header(self, name: str) -> str:
        return self.headers[self.by_field[name]] if name in self.by_field else name


def read_sheet(upload: Upload) -> Sheet:
    file_format, rows = read_rows(upload, MEMBER_LIST)
    return Sheet(file_format, rows)


def too_many_rows() -> ValidationFailed:
    return file_refused(MEMBER_LIST.too_many_rows, Code.TOO_MANY_ROWS)


def _recognised(cells: list[Any]) -> int:
    return sum(field_for(cell_text(c)) is not None for c in cells)


def find_columns(sheet: Sheet) -> Columns:
    """The header row (the first with a name column and another known one) and its columns.

    Repeated and missing required columns are refused with 422 naming them; other columns
    (Dân tộc, Thôn/xóm, a column nobody knows) are read past with a warning.
    """
    candidates = sheet.rows[:HEADER_SEARCH_ROWS]
    if not candidates:
        raise file_refused("has no rows")
    header_row, cells = next(
        (
            (number, cells)
            for number, cells in candidates
            if _recognised(cells) >= 2
            and any(field_for(cell_text(c)) == "full_name" for c in cells)
        ),
        candidates[0],
    )
    headers = [cell_text(cell) for cell in cells]
    columns = Columns(header_row=header_row, by_field={}, headers=headers)
    errors = []
    for index, header in enumerate(headers):
        name = field_for(header)
        if not header:
            continue
        if name is None:
            columns.read_past(header)
        elif name in columns.by_field:
            first = headers[columns.by_field[name]]
            reason = f"gives {name} like column {first!r}"
            errors.append(field_error(header, reason, "file", code=Code.DUPLICATE_COLUMN))
        else:
            columns.by_field[name] = index
    for name in REQUIRED_FIELDS:
        if name not in columns.by_field:
            errors.append(field_error(name, _missing(name), "file", code=Code.MISSING_COLUMN))
    if "birth_date" not in columns.by_field and "birth_year" not in columns.by_field:
        reason = _missing("birth_date", "birth_year")
        errors.append(field_error("birth_date", reason, "file", code=Code.MISSING_COLUMN))
    if errors:
        summary = "; ".join(f"{e.field}: {e.reason}" for e in errors)
        raise ValidationFailed(f"Columns of row {header_row}: {summary}", errors=errors)
    return columns


def _missing(*names: str) -> str:
    options = " / ".join(f"{FIELD_HEADERS[n][0]!r} or {n!r}" for n in names)
    return f"missing column ({options})"


class CellError(ValueError):
    """A cell that cannot be read as its field's value; the message is the reason."""


def _label(cell: Any, labels: dict[str, str], expected: str) -> str | None:
    text = cell_text(cell)
    if not text:
        return None
    found = labels.get(label_key(text))
    if found is None:
        raise CellError(f"is not one of {expected}")
    return found


def parse_date(cell: Any) -> date | int | None:
    """A date (dd/mm/yyyy, yyyy-mm-dd or an Excel date), or a year alone as an int."""
    if cell is None or cell == "":
        return None
    if isinstance(cell, datetime):
        return cell.date()
    if isinstance(cell, date):
        return cell
    if isinstance(cell, int | float) and not isinstance(cell, bool):
        if 1000 <= cell <= 2100 and float(cell).is_integer():
            return int(cell)
        # A date cell formatted as a number holds Excel's day count.
        try:
            moment = from_excel(cell)
        except (ValueError, OverflowError, TypeError):
            raise CellError("is not a date") from None
        if not isinstance(moment, datetime):  # under one day is a time of day, not a date
            raise CellError("is not a date")
        return moment.date()
    text = cell_text(cell)
    if _YEAR.match(text):
        return int(text)
    parts = _DATE_DMY.match(text)
    day_month_year = parts.groups() if parts else None
    if day_month_year is None and (parts := _DATE_YMD.match(text)):
        year, month, day = parts.groups()
        day_month_year = (day, month, year)
    if day_month_year is None:
        raise CellError("is not a date (dd/mm/yyyy or yyyy-mm-dd)")
    day, month, year = (int(part) for part in day_month_year)
    try:
        return date(year, month, day)
    except ValueError:
        raise CellError("is not a date of the calendar") from None


def parse_year(cell: Any) -> int | None:
    text = cell_text(cell)
    if not text:
        return None
    if not _YEAR.match(text):
        raise CellError("is not a year (yyyy)")
    return int(text)


def parse_flag(cell: Any) -> bool:
    if isinstance(cell, bool):
        return cell
    text = label_key(cell_text(cell))
    if text in YES:
        return True
    if text in NO:
        return False
    raise CellError("is not yes or no (x / có / yes / 1 / true, or empty / không / no / 0)")


def parse_national_id(cell: Any) -> str | None:
    """The ID as text; in a number cell Excel dropped the leading zeros (IDs start 0xx)."""
    if isinstance(cell, int | float) and not isinstance(cell, bool):
        return cell_text(cell).zfill(12)
    return cell_text(cell) or None


def parse_phone(cell: Any) -> str | None:
    """The number as text; in a number cell Excel dropped the leading 0 (unless it is +84)."""
    if isinstance(cell, int | float) and not isinstance(cell, bool):
        text = cell_text(cell)
        return text if text.startswith("84") and len(text) > 10 else "0" + text
    return cell_text(cell) or None


def parse_text(cell: Any) -> str | None:
    return cell_text(cell) or None


def _household(cell: Any) -> str:
    """Boards mark only the poor, near-poor and disadvantaged: a blank cell is an ordinary
    household."""
    found = _label(cell, HOUSEHOLDS, "Hộ nghèo, Hộ cận nghèo, Hoàn cảnh khó khăn, Không")
    return "none" if found is None else found


def _role(cell: Any) -> str | None:
    return _label(cell, BOARD_ROLES, "Chủ nhiệm, Phó chủ nhiệm, Kế toán, Thủ quỹ, Tổ trưởng")


PARSERS = {
    "full_name": parse_text,
    "gender": lambda cell: _label(cell, GENDERS, "Nam, Nữ, male, female"),
    "birth_date": parse_date,
    "birth_year": parse_year,
    "household_status": _household,
    "national_id": parse_national_id,
    "phone": parse_phone,
    "joined_on": parse_date,
    "board_role": _role,
    "home_care_volunteer": parse_flag,
    "income_generation_volunteer": parse_flag,
    "consent_form": parse_text,
    "consent_date": parse_date,
    "consent_bank_matching": parse_flag,
    "consent_funder_figures": parse_flag,
}


def shown(cell: Any) -> str | None:
    """A cell as the report shows it: as read, cut to 100 characters."""
    if cell is None:
        return None
    text = cell.date().isoformat() if isinstance(cell, datetime) else cell_text(cell)
    return text[:100]
