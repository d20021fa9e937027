"""Budget estimate tables (Biểu dự toán kinh phí) as XLSX and CSV: a plan's lines out and in.

The layout is the provinces' own: a title row, a unit row, the header row (`STT`, `Nội dung`,
`Tổng cộng`, one column per source named as in the sources' reference list, `Hoạt động`), one
row per budget line and a total row. A source named on a line without its amount shows
"Trong dự toán".

Import reads what export writes, what an officer types and what the plans print: title rows
above the header; a header over two rows (`Kinh phí` or `Nguồn kinh phí` merged over the
source columns, the sources' names in the row below); full source names ("Nguồn ngân sách
tỉnh", "Nguồn Quỹ Chăm sóc và phát huy vai trò người cao tuổi"), short ones ("NS tỉnh", "XHH")
and the names of the reference list; decimal commas; a row of column numbers; no activity
column. A line's activity comes from the `Hoạt động` column when it names one; otherwise it is
read from the line's wording ("Hội nghị tổng kết" is a review conference, "Hỗ trợ nguồn quỹ" seed
capital) and marked as inferred, for the officer to confirm; wording that names no activity
gives `other`, marked the same way, rather than refusing a whole printed table for one line.
Every problem is reported at once, named by the row and the column the user sees.
"""

import csv
import io
import math
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from pydantic import ValidationError

from common.problem_codes import Code
from common.problems import FieldError, ValidationFailed, field_error
from common.spreadsheets import (
    Row,
    SheetKind,
    Upload,
    cell_text,
    file_refused,
    label_key,
    read_rows,
)
from common.text import fold
from common.vietnamese import format_number
from services.funding.plans.schemas import MAX_LINES, LineIn, LinePublic, PlanPublic, known_sum
from services.funding.rules import (
    MAX_AMOUNT,
    MILLION,
    SEEDS,
    Activity,
    PlanStatus,
    ReferenceKind,
    Source,
    seed_names,
)

Unit = Literal["million", "dong"]
FileFormat = Literal["xlsx", "csv"]
Cell = str | int | Decimal | None

HEADER_SEARCH_ROWS = 20
"""Provinces put the agency, the title and the unit above the header row."""
BUDGET_TABLE = SheetKind(
    name="budget table",
    # Title, header, column-number and total rows, and the signatures under the table.
    max_rows=MAX_LINES + HEADER_SEARCH_ROWS + 30,
    too_many_rows=f"has more than {MAX_LINES} budget lines",
    # 200 lines take well under 1 MB inside an .xlsx, even with a logo.
    max_unpacked_bytes=20 * 2**20,
    separator_lines=HEADER_SEARCH_ROWS,
)

UNIT_FACTOR: dict[Unit, int] = {"million": MILLION, "dong": 1}
UNIT_LABEL: dict[Unit, str] = {"million": "triệu đồng", "dong": "đồng"}
STATUS_LABEL = {PlanStatus.DRAFT: "dự thảo", PlanStatus.APPROVED: "đã phê duyệt"}

NUMBER, CONTENT, TOTAL, ACTIVITY = "STT", "Nội dung", "Tổng cộng", "Hoạt động"
IN_THE_ESTIMATE = "Trong dự toán"
"""A source named on a line whose amount is not known yet ("trong dự toán hằng năm")."""


@dataclass(frozen=True)
class SourceColumn:
    """The role of a column holding one source's amounts."""

    code: str


Role = Literal["number", "content", "total", "activity", "notes", "group"] | SourceColumn

# role → the headers that give it (matched by `label_key`: any case, with or without diacritics).
HEADERS: dict[Role, tuple[str, ...]] = {
    "number": ("STT", "TT", "Số TT", "Số thứ tự", "No", "number"),
    "content": ("Nội dung", "Nội dung chi", "Nội dung hoạt động", "Hạng mục", "content"),
    "total": (
        *("Tổng", "Tổng cộng", "Tổng số", "Tổng kinh phí", "Cộng", "total"),
        *("Kinh phí", "Kinh phí thực hiện", "Dự toán kinh phí"),
    ),
    "activity": ("Hoạt động", "Loại hoạt động", "activity"),
    "notes": ("Ghi chú", "notes", "note"),
    # Over the source columns in a header of two rows; the row below names the sources.
    "group": ("Nguồn kinh phí", "Nguồn vốn", "Trong đó", "Chia ra", "Chia theo nguồn"),
}
# The seeds' short and older names, besides the code and names of the reference list.
SOURCE_HEADERS: dict[str, tuple[str, ...]] = {
    Source.CENTRAL_BUDGET: ("NS trung ương", "NSTW", "NS TW", "Ngân sách TW", "Trung ương"),
    Source.PROVINCIAL_BUDGET: ("NS tỉnh", "Ngân sách cấp tỉnh", "NS cấp tỉnh", "NSĐP"),
    Source.COMMUNE_BUDGET: ("NS xã", "Ngân sách cấp xã", "NS cấp xã"),
    Source.ELDERLY_CARE_FUND: (
        "Quỹ CS NCT",
        "Quỹ chăm sóc NCT",
        "Quỹ chăm sóc người cao tuổi",
        "Quỹ Chăm sóc và phát huy vai trò NCT",
        "Quỹ CS&PHVT NCT",
        "Quỹ NCT",
    ),
    Source.FUND_FOR_THE_POOR: ("Quỹ VNN", "Quỹ vì NN", "Quỹ Vì người nghèo"),
    Source.SOCIALISATION: ("XHH", "Xã hội hóa", "Huy động xã hội hóa"),
    Source.MEMBER_CONTRIBUTIONS: ("HV đóng góp", "Đóng góp của hội viên", "Hội viên đóng góp"),
    Source.INTERNATIONAL: ("Quốc tế", "Tài trợ", "Nhà tài trợ", "Nhà tài trợ quốc tế"),
    Source.SOCIAL_SECURITY_FUND: ("Quỹ ASXH", "Quỹ an sinh"),
    Source.CREDIT_FUND: ("Quỹ tín dụng nhân dân", "QTDND"),
    Source.ELDERLY_ASSOCIATION: ("Hội NCT đóng góp", "Hội NCT", "Hội Người cao tuổi"),
}
# "Nguồn ngân sách tỉnh", "Nguồn kinh phí xã hội hóa": the plans' words before a source's name.
SOURCE_PREFIX = re.compile(r"^nguon (?:kinh phi |von )?(?:tu )?")
TOTAL_ROW_LABELS = frozenset({"tong cong", "tong", "tong so", "cong", "total"})

# First match wins, so the order settles contents that name two things: "Hỗ trợ vốn cho CLB
# mới thành lập" is seed capital, "Giám sát sử dụng vốn" monitoring, "Hội nghị ra mắt CLB" a
# launch, "Vận động nguồn vốn" resource mobilisation.
ACTIVITY_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (Activity.TRAINING, ("tap huan", "dao tao", "boi duong")),
    (Activity.MONITORING, ("giam sat", "kiem tra", "ho tro ky thuat")),
    (Activity.RESOURCE_MOBILISATION, ("van dong", "huy dong")),
    (Activity.SEED_CAPITAL, ("von", "nguon quy", "quy ban dau")),
    (Activity.CLUB_ESTABLISHMENT, ("ra mat", "thanh lap")),
    (Activity.REVIEW_CONFERENCE, ("tong ket", "so ket", "hoi nghi")),
    (Activity.COMMUNICATION, ("truyen thong", "tuyen truyen")),
    (Activity.INTERNATIONAL_COOPERATION, ("hop tac quoc te",)),
    (Activity.PLANNING, ("ke hoach", "khao sat")),
    (Activity.OTHER, ("khac",)),
)


@dataclass(frozen=True)
class Vocabulary:
    """What an imported table may name: each source's and activity's code → its names."""

    sources: Mapping[str, tuple[str, ...]]
    activities: Mapping[str, tuple[str, ...]]


def _seeded(kind: ReferenceKind) -> dict[str, tuple[str, ...]]:
    return {seed.code: (seed.name_vi, seed.name_en) for seed in SEEDS[kind]}


SEED_VOCABULARY = Vocabulary(
    sources=_seeded(ReferenceKind.SOURCES), activities=_seeded(ReferenceKind.ACTIVITIES)
)


@dataclass(frozen=True)
class Labels:
    """The Vietnamese names an exported table shows: code → name, in the lists' order."""

    sources: Mapping[str, str]
    activities: Mapping[str, str]


SEED_LABELS = Labels(
    sources=seed_names(ReferenceKind.SOURCES), activities=seed_names(ReferenceKind.ACTIVITIES)
)


@dataclass(frozen=True)
class Imported:
    """An imported table's lines, and the numbers of those whose activity was inferred."""

    lines: list[LineIn]
    inferred: frozenset[int]


# A row under the header numbering the columns: "1", "2", "3=4+5", "(4)", "A".
COLUMN_NUMBER = re.compile(r"^(\(?\d{1,2}\)?(\s*[=+\-]\s*\(?\d{1,2}\)?)*|\(?[A-Z]\)?)$")
AMOUNT_TEXT = re.compile(r"^\d+([.,]\d+)*$")
LINE_NUMBER = re.compile(r"^\d{1,3}\.?$")
UNIT_STATED = re.compile(r"\b(?:don vi tinh|dvt)\b\s*(.*)$")
ACTIVITIES_LISTED = "the valid codes are listed at GET /api/v1/reference/activities"
BLANK_AMOUNTS = frozenset({"", "-", "–", "—"})
# What the unit row may say, in `_words` form, and the unit it is; None for units not read.
STATED_UNITS: tuple[tuple[str, Unit | None], ...] = (
    ("trieu", "million"),
    ("nghin", None),
    ("ngan", None),
    ("ty", None),
    ("dong", "dong"),
    ("vnd", "dong"),
)
# Excel runs a cell that starts like this as a formula, even from a CSV.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


# Export


def export_table(
    plan: PlanPublic,
    file_format: FileFormat,
    unit: Unit,
    province_name: str | None,
    labels: Labels = SEED_LABELS,
) -> bytes:
    """The plan's budget table as an .xlsx workbook or a UTF-8 CSV (with a BOM, for Excel).

    Amounts are in `unit`: million đồng as exact decimals (50,700,000 → 50.7), or đồng. The
    source columns are those the plan's lines name, in the sources' list order, headed by
    their Vietnamese names; the activity column shows the activities' Vietnamese names.
    """
    named = {source for line in plan.lines for source in line.amounts}
    order = {code: position for position, code in enumerate(labels.sources)}
    sources = sorted(named, key=lambda code: (order.get(code, len(order)), code))
    table = _Table(
        title=_title(plan, province_name),
        unit_row=f"Đơn vị tính: {UNIT_LABEL[unit]}",
        header=[NUMBER, CONTENT, TOTAL, *(labels.sources.get(s, s) for s in sources), ACTIVITY],
        lines=[_line_row(line, sources, unit, labels) for line in plan.lines],
        total=_total_row(plan.lines, sources, unit),
    )
    return _xlsx(table, unit) if file_format == "xlsx" else _csv(table, unit)


@dataclass(frozen=True)
class _Table:
    title: str
    unit_row: str
    header: list[str]
    lines: list[list[Cell]]
    total: list[Cell]

    def rows(self) -> list[list[Cell]]:
        return [[self.title], [self.unit_row], list(self.header), *self.lines, self.total]


def _title(plan: PlanPublic, province_name: str | None) -> str:
    period = (
        f"Năm {plan.start_year}"
        if plan.start_year == plan.end_year
        else f"Giai đoạn {plan.start_year}–{plan.end_year}"
    )
    version = f"Phiên bản {plan.version} ({STATUS_LABEL[plan.status]})"
    return " — ".join(part for part in (plan.title, province_name, period, version) if part)


def _line_row(line: LinePublic, sources: list[str], unit: Unit, labels: Labels) -> list[Cell]:
    amounts = [_source_cell(line, source, unit) for source in sources]
    total = _amount_cell(line.total, unit)
    activity = labels.activities.get(line.activity, line.activity)
    return [line.number, line.content, total, *amounts, activity]


def _source_cell(line: LinePublic, source: str, unit: Unit) -> Cell:
    # A source giving nothing to a line stays blank, as in the provinces' tables.
    if source not in line.amounts:
        return None
    amount = line.amounts[source]
    if amount is None:
        return IN_THE_ESTIMATE
    return _amount_cell(amount, unit) if amount else None


def _total_row(lines: list[LinePublic], sources: list[str], unit: Unit) -> list[Cell]:
    sums = [sum(line.total for line in lines)]
    sums += [sum(line.amounts.get(s) or 0 for line in lines) for s in sources]
    return [None, TOTAL, *(_amount_cell(amount, unit) for amount in sums), None]


def _amount_cell(dong: int, unit: Unit) -> int | Decimal:
    """An amount in `unit`, exactly: whole numbers as int, others without trailing zeros."""
    if unit == "dong":
        return dong
    value = Decimal(dong) / MILLION
    return int(value) if value == value.to_integral_value() else value.normalize()


def _csv(table: _Table, unit: Unit) -> bytes:
    buffer = io.StringIO()
    # Excel on Windows expects CRLF and recognises UTF-8 only by its BOM.
    writer = csv.writer(buffer, lineterminator="\r\n")
    for row in table.rows():
        writer.writerow([_csv_cell(cell, unit) for cell in row])
    return buffer.getvalue().encode("utf-8-sig")


def _csv_cell(cell: Cell, unit: Unit) -> str | int:
    if cell is None:
        return ""
    if isinstance(cell, Decimal):
        # As the plans print them (50,7); the import reads `.` and `,` alike.
        return format_number(cell, max(0, -cell.as_tuple().exponent))  # type: ignore[operator]
    if unit == "dong" and isinstance(cell, int) and not isinstance(cell, bool):
        # Grouped as the plans print them (50.700.000); whole millions stay plain (1129):
        # a lone dot there would read as a decimal mark.
        return format_number(cell)
    if isinstance(cell, str) and cell.startswith(FORMULA_STARTS):
        # The apostrophe keeps "- Tập huấn" or "=…" text in Excel; the import drops it again.
        return f"'{cell}"
    return cell


def _xlsx(table: _Table, unit: Unit) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None  # a new workbook always has its first sheet
    sheet.title = "Dự toán kinh phí"
    for row in table.rows():
        # Excel holds 15 significant digits; amounts up to MAX_AMOUNT đồng need at most 14.
        sheet.append([float(cell) if isinstance(cell, Decimal) else cell for cell in row])
    for row in sheet.iter_rows():
        for cell in row:
            if cell.data_type == "f":
                # openpyxl takes text starting with "=" for a formula; contents are text.
                cell.data_type = "s"
    header_row, first_line, total_row = 3, 4, sheet.max_row
    last_amount_column = len(table.header) - 1
    sheet.cell(1, 1).font = Font(bold=True, size=13)
    sheet.cell(2, 1).font = Font(italic=True)
    for cell in sheet[header_row]:
        cell.font = Font(bold=True)
        cell.alignment = Alignment(horizontal="center", vertical="center", wrap_text=True)
    for row in sheet.iter_rows(min_row=first_line, min_col=3, max_col=last_amount_column):
        for cell in row:
            # Whole amounts without a decimal mark (400, not 400,0), others with their digits.
            whole = not isinstance(cell.value, float) or cell.value.is_integer()
            cell.number_format = "#,##0" if whole else "#,##0.0#####"
    for cell in sheet[total_row]:
        cell.font = Font(bold=True)
    for column, width in _widths(len(table.header)).items():
        sheet.column_dimensions[column].width = width
    sheet.freeze_panes = sheet.cell(first_line, 1)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _widths(columns: int) -> dict[str, float]:
    widths = {"A": 6.0, "B": 50.0}
    widths.update({get_column_letter(c): 16.0 for c in range(3, columns)})
    widths[get_column_letter(columns)] = 20.0
    return widths


# Import


def import_table(
    data: bytes,
    file_name: str | None,
    content_type: str | None,
    unit: Unit,
    vocabulary: Vocabulary = SEED_VOCABULARY,
) -> Imported:
    """The budget lines of an uploaded table, amounts read in `unit` and returned in đồng.

    Reads the first sheet of an .xlsx or a CSV; the header row (or the two header rows) is
    found below any title rows. Source columns are matched to `vocabulary`'s sources by their
    names, without diacritics. A line's number is its STT, or its position when STT is blank;
    its activity is the `Hoạt động` column when that names one of `vocabulary`'s activities,
    or is inferred from the wording (then its number is in `inferred`). A source cell saying
    "Trong dự toán" names the source with its amount not known (None). The total row is
    checked against the lines, and ends the table when it comes under them (notes and
    signatures follow). Raises 415 for other file types, and 422 listing every problem
    found, each named by row and column as in the sheet (e.g. `row 7, Quỹ CS NCT`).
    """
    _, rows = read_rows(Upload(data, file_name, content_type), BUDGET_TABLE)
    headers = _Headers.of(vocabulary)
    columns = _find_columns(rows, unit, headers)
    reader = _Reader(columns, unit, _Activities.of(vocabulary))
    for number, cells in rows:
        if number > columns.header_row and not reader.read(number, cells):
            break
    return reader.result()


class _CellError(ValueError):
    """A cell that cannot be read; the message is the reason."""


@dataclass(frozen=True)
class _Columns:
    header_row: int
    """The (last) header row: lines come below it."""
    headers: dict[int, str]
    """Column index → the header as typed, for the columns that have one."""
    roles: dict[Role, int]
    """Role → column index."""

    @property
    def sources(self) -> dict[str, int]:
        return {
            role.code: index for role, index in self.roles.items() if isinstance(role, SourceColumn)
        }

    def name(self, index: int) -> str:
        return self.headers.get(index) or f"column {get_column_letter(index + 1)}"


def _words(text: str) -> str:
    return " ".join(re.sub(r"[^a-z0-9]+", " ", fold(text)).split())


@dataclass(frozen=True)
class _Headers:
    """The headers a table may have: `label_key` of a header → its role."""

    roles: dict[str, Role]

    @classmethod
    def of(cls, vocabulary: Vocabulary) -> "_Headers":
        roles = {label_key(h): role for role, headers in HEADERS.items() for h in headers}
        for code, names in vocabulary.sources.items():
            for name in (code, *names, *SOURCE_HEADERS.get(code, ())):
                roles.setdefault(label_key(name), SourceColumn(code))
        return cls(roles)

    def role(self, cell: Any) -> Role | None:
        key = label_key(cell_text(cell))
        return self.roles.get(key) or self.roles.get(SOURCE_PREFIX.sub("", key))

    def is_header(self, cells: list[Any]) -> bool:
        roles = [self.role(cell) for cell in cells]
        return "content" in roles and sum(role is not None for role in roles) >= 2

    def names_a_source(self, cells: list[Any]) -> bool:
        return any(isinstance(self.role(cell), SourceColumn) for cell in cells)


def _find_columns(rows: list[Row], unit: Unit, known: _Headers) -> _Columns:
    """The header row (the first with a content column and another known one) and its columns.

    A header split over two rows (`Kinh phí` or `Nguồn kinh phí` above the sources) is read
    as one. The unit stated above the header, unknown and repeated columns are refused with
    422.
    """
    position = next(
        (i for i, (_, cells) in enumerate(rows[:HEADER_SEARCH_ROWS]) if known.is_header(cells)),
        None,
    )
    if position is None:
        raise file_refused(
            f"has no header row with {NUMBER} and {CONTENT} in its first {HEADER_SEARCH_ROWS} rows",
            Code.MISSING_COLUMN,
        )
    header_row, cells = rows[position]
    headers = {i: (cell_text(c), header_row) for i, c in enumerate(cells) if cell_text(c)}
    if position + 1 < len(rows) and _is_lower_header(rows[position + 1][1], headers, known):
        header_row, lower = rows[position + 1]
        headers |= {i: (cell_text(c), header_row) for i, c in enumerate(lower) if cell_text(c)}
    errors = _unit_errors(rows[:position], unit)
    roles: dict[Role, int] = {}
    for index, (text, row) in sorted(headers.items()):
        role = known.role(text)
        if role is None:
            where = f"row {row}, {text}"
            errors.append(field_error(where, "unknown column", "file", code=Code.UNKNOWN_COLUMN))
        elif role in roles:
            first = headers[roles[role]][0]
            reason = f'repeats column "{first}"'
            errors.append(
                field_error(f"row {row}, {text}", reason, "file", code=Code.DUPLICATE_COLUMN)
            )
        elif role != "group":
            roles[role] = index
    if not any(isinstance(role, SourceColumn) for role in roles):
        reason = (
            "no source column (such as Ngân sách tỉnh, Quỹ CS NCT, Xã hội hóa; the sources "
            "are listed at GET /api/v1/reference/sources)"
        )
        errors.append(field_error(f"row {header_row}", reason, "file", code=Code.MISSING_COLUMN))
    if errors:
        raise _problems(errors)
    # A group header left with no source under it names no column: values there are stray.
    named = {index: text for index, (text, _) in headers.items() if index in roles.values()}
    return _Columns(header_row, named, roles)


def _is_lower_header(cells: list[Any], upper: dict[int, tuple[str, int]], known: _Headers) -> bool:
    """A row of source labels under a header whose number and content cells span two rows."""
    beside = [
        cell_text(cell)
        for index, cell in enumerate(cells)
        if known.role(upper.get(index, ("", 0))[0]) in ("number", "content")
    ]
    return not any(beside) and known.names_a_source(cells)


def _unit_errors(title_rows: list[Row], unit: Unit) -> list[FieldError]:
    """A unit stated above the header ("Đơn vị tính: đồng") that is not the one asked for.

    Reading đồng as million would multiply every amount by a million, so it is refused.
    """
    errors = []
    for row, cells in title_rows:
        for cell in cells:
            stated = UNIT_STATED.search(_words(cell_text(cell)))
            words = stated.group(1) if stated else ""
            found = next((u for prefix, u in STATED_UNITS if words.startswith(prefix)), unit)
            if found != unit:
                reason = (
                    f'says "{cell_text(cell)}", but the amounts were to be read in '
                    f"{UNIT_LABEL[unit]}"
                )
                errors.append(field_error(f"row {row}", reason, "file", code=Code.UNIT_MISMATCH))
    return errors


def _problems(errors: list[FieldError]) -> ValidationFailed:
    summary = "; ".join(f"{e.field}: {e.reason}" for e in errors[:5])
    more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
    return ValidationFailed(f"The budget table has problems: {summary}{more}", errors=errors)


@dataclass
class _Reader:
    """Reads the rows under the header one by one, keeping every problem and the column sums."""

    columns: _Columns
    unit: Unit
    activities: "_Activities"
    lines: list[LineIn] = field(default_factory=list)
    inferred: set[int] = field(default_factory=set)
    """The numbers of the lines whose activity was read from their wording."""
    errors: list[FieldError] = field(default_factory=list)
    rows_of_numbers: dict[int, int] = field(default_factory=dict)
    sums: dict[int, int] = field(default_factory=dict)
    unknown_sums: set[int] = field(default_factory=set)
    """Columns with a cell that could not be read: their sums cannot be checked."""
    total_rows: list[Row] = field(default_factory=list)
    seen_lines: int = 0

    def read(self, row: int, cells: list[Any]) -> bool:
        """Reads one row; False when the table ends there."""
        if self._is_column_numbers(cells) or self._has_only_a_number(cells):
            return True
        if not self._text(cells, "number") and self._is_total_label(cells):
            self.total_rows.append((row, cells))
            return self.seen_lines == 0
        self._read_line(row, cells)
        return True

    def result(self) -> Imported:
        for row, cells in self.total_rows:
            self._check_total_row(row, cells)
        if self.errors:
            raise _problems(self.errors)
        if not self.lines:
            raise file_refused(
                f"has no budget lines under the header (row {self.columns.header_row})"
            )
        return Imported(self.lines, frozenset(self.inferred))

    def _cell(self, cells: list[Any], index: int | None) -> Any:
        return cells[index] if index is not None and index < len(cells) else None

    def _text(self, cells: list[Any], role: Role) -> str:
        return cell_text(self._cell(cells, self.columns.roles.get(role)))

    def _is_column_numbers(self, cells: list[Any]) -> bool:
        texts = [cell_text(cell) for cell in cells if cell_text(cell)]
        return bool(self._text(cells, "content")) and all(COLUMN_NUMBER.match(t) for t in texts)

    def _has_only_a_number(self, cells: list[Any]) -> bool:
        # Templates often number rows ahead of their content.
        number = self.columns.roles.get("number")
        return all(not cell_text(cell) for index, cell in enumerate(cells) if index != number)

    def _is_total_label(self, cells: list[Any]) -> bool:
        return label_key(self._text(cells, "content")) in TOTAL_ROW_LABELS

    def _error(
        self, row: int, index: int | None, reason: str, code: str = Code.INVALID.value
    ) -> None:
        """A cell's (or the row's) reason; `code` is a catalogue code or pydantic's type."""
        where = f"row {row}" if index is None else f"row {row}, {self.columns.name(index)}"
        self.errors.append(FieldError(location="file", field=where, reason=reason, code=code))

    def _read_line(self, row: int, cells: list[Any]) -> None:
        self.seen_lines += 1
        if self.seen_lines > MAX_LINES:
            raise file_refused(BUDGET_TABLE.too_many_rows, Code.TOO_MANY_ROWS)
        errors_before = len(self.errors)
        self._check_stray_values(row, cells)
        number = self._line_number(row, cells)
        content = self._content(row, cells)
        amounts = self._amounts(row, cells)
        total = self._line_total(row, cells, amounts)
        activity, inferred = self._activity(row, cells, content)
        if len(self.errors) > errors_before or amounts is None or activity is None:
            return
        # Blank is nothing; "Trong dự toán" (None) names the source, amount not known yet.
        given = {source: amount for source, amount in amounts.items() if amount != 0}
        if inferred:
            self.inferred.add(number)
        try:
            line = LineIn(
                number=number, activity=activity, content=content, amounts=given, total=total
            )
        except ValidationError as exc:
            for error in exc.errors():
                self._error(row, None, error["msg"], error["type"])
            return
        self.lines.append(line)

    def _check_stray_values(self, row: int, cells: list[Any]) -> None:
        for index, cell in enumerate(cells):
            if index not in self.columns.headers and cell_text(cell):
                self._error(
                    row, index, f'"{cell_text(cell)}" is under no header', Code.UNKNOWN_COLUMN
                )

    def _line_number(self, row: int, cells: list[Any]) -> int:
        index = self.columns.roles.get("number")
        try:
            number = _line_number(self._cell(cells, index)) or self.seen_lines
        except _CellError as exc:
            self._error(row, index, str(exc))
            return self.seen_lines
        if number in self.rows_of_numbers:
            other = self.rows_of_numbers[number]
            self._error(
                row, index, f"line number {number} is taken by row {other}", Code.DUPLICATE_VALUE
            )
        self.rows_of_numbers.setdefault(number, row)
        return number

    def _content(self, row: int, cells: list[Any]) -> str:
        # Windows-1258 text arrives with separate tone marks; stored text is composed.
        content = unicodedata.normalize("NFC", self._text(cells, "content"))
        if content.startswith("'") and content[1:].startswith(FORMULA_STARTS):
            content = content[1:]
        if not content:
            self._error(row, self.columns.roles["content"], "is empty")
        return content

    def _amounts(self, row: int, cells: list[Any]) -> dict[str, int | None] | None:
        """Each source's amount in đồng (None: named, amount not known yet), added to the
        column sums; None if one is unreadable."""
        amounts: dict[str, int | None] = {}
        for source, index in self.columns.sources.items():
            if _in_the_estimate(self._cell(cells, index)):
                amounts[source] = None
                continue
            amount = self._amount(row, cells, index)
            if amount is None:
                self.unknown_sums.add(index)
                continue
            amounts[source] = amount
            self.sums[index] = self.sums.get(index, 0) + amount
        return amounts if len(amounts) == len(self.columns.sources) else None

    def _amount(self, row: int, cells: list[Any], index: int) -> int | None:
        try:
            return _amount(self._cell(cells, index), self.unit)
        except _CellError as exc:
            self._error(row, index, str(exc))
            return None

    def _line_total(
        self, row: int, cells: list[Any], amounts: dict[str, int | None] | None
    ) -> int | None:
        """The total the line states (None if blank), checked against its sources."""
        index = self.columns.roles.get("total")
        if index is None:
            return None
        given = self._stated(cells, index)
        stated = self._amount(row, cells, index) if given else None
        added = known_sum(amounts) if amounts is not None else None
        counted = stated if given else added
        if counted is None:
            self.unknown_sums.add(index)
        else:
            self.sums[index] = self.sums.get(index, 0) + counted
        if stated is not None and added is not None and stated != added:
            reason = (
                f"the sources add up to {self._shown(added)}, not the total {self._shown(stated)}"
            )
            self._error(row, index, reason, Code.SUM_MISMATCH)
        return stated

    def _stated(self, cells: list[Any], index: int) -> bool:
        cell = self._cell(cells, index)
        return cell_text(cell) not in BLANK_AMOUNTS and not _in_the_estimate(cell)

    def _activity(self, row: int, cells: list[Any], content: str) -> tuple[str | None, bool]:
        """The line's activity, and whether it was inferred from wording rather than named."""
        text = self._text(cells, "activity")
        if not text:
            guessed = self.activities.inferred(content) or self.activities.fallback
            if guessed is None:
                self._error(row, None, "names no activity: add a Hoạt động column")
            return guessed, True
        named = self.activities.named(text)
        if named is not None:
            return named, False
        guessed = self.activities.inferred(text)
        if guessed is None:
            reason = f'"{text}" names no activity; {ACTIVITIES_LISTED}'
            self._error(row, self.columns.roles["activity"], reason, Code.UNKNOWN_REFERENCE)
        return guessed, True

    def _check_total_row(self, row: int, cells: list[Any]) -> None:
        total = self.columns.roles.get("total")
        indexes = [*([total] if total is not None else []), *self.columns.sources.values()]
        for index in indexes:
            if not self._stated(cells, index):
                continue
            stated = self._amount(row, cells, index)
            added = self.sums.get(index, 0)
            if stated is None or index in self.unknown_sums or stated == added:
                continue
            name = self.columns.name(index)
            reason = f"total row: {name} is {self._shown(stated)}, "
            reason += f"the lines add up to {self._shown(added)}"
            self._error(row, index, reason, Code.SUM_MISMATCH)

    def _shown(self, dong: int) -> str:
        """An amount in the table's unit, for messages: 400.0 (million) or 400,000,000 (đồng)."""
        if self.unit == "dong":
            return f"{dong:,}"
        text = format((Decimal(dong) / MILLION).normalize(), "f")
        return text if "." in text else f"{text}.0"


def _line_number(cell: Any) -> int | None:
    """STT as a number 1–999 ("3" or "3."), None if blank."""
    text = cell_text(cell)
    if not text:
        return None
    if LINE_NUMBER.match(text) and 1 <= int(text.rstrip(".")) <= 999:
        return int(text.rstrip("."))
    raise _CellError(f'"{text}" is not a line number (1 to 999)')


@dataclass(frozen=True)
class _Activities:
    """How a table names activities: by code or name, or by the wording of a line."""

    names: dict[str, str]
    """`label_key` of an activity's code or name → its code."""
    phrases: tuple[tuple[str, tuple[str, ...]], ...]
    """Code → the words that tell it, in the order they are tried."""
    fallback: str | None
    """For wording that tells no activity: `other`, unless it was retired."""

    @classmethod
    def of(cls, vocabulary: Vocabulary) -> "_Activities":
        known = vocabulary.activities
        names: dict[str, str] = {}
        for code, labels in known.items():
            for name in (code, *labels):
                names.setdefault(label_key(name), code)  # the list's first item keeps a name
        # The words of the seeds first, then the names of every activity, the added ones too.
        phrases = [(code, words) for code, words in ACTIVITY_WORDS if code in known]
        phrases += [
            (code, tuple(_words(name) for name in labels)) for code, labels in known.items()
        ]
        fallback = Activity.OTHER.value if Activity.OTHER in known else None
        return cls(names, tuple(phrases), fallback)

    def named(self, text: str) -> str | None:
        """The activity whose code or name `text` is (`seed_capital`, "Tập huấn")."""
        return self.names.get(label_key(text))

    def inferred(self, text: str) -> str | None:
        """The activity a content describes ("Hỗ trợ nguồn quỹ…" → seed capital), if plain."""
        padded = f" {_words(text)} "
        return next(
            (
                code
                for code, phrases in self.phrases
                if any(f" {phrase} " in padded for phrase in phrases if phrase)
            ),
            None,
        )


def _in_the_estimate(cell: Any) -> bool:
    """A cell naming the source without an amount: "Trong dự toán (hằng năm)"."""
    return label_key(cell_text(cell)).startswith(("trong du toan", "du toan"))


def _amount(cell: Any, unit: Unit) -> int:
    """A cell as whole đồng: blank is 0; numbers exactly, or refused with the reason."""
    if isinstance(cell, bool):
        raise _CellError(f'"{cell_text(cell)}" is not an amount')
    if isinstance(cell, int):
        value = Decimal(cell)
    elif isinstance(cell, float):
        if not math.isfinite(cell):
            raise _CellError(f'"{cell_text(cell)}" is not an amount')
        # Excel keeps 15 significant digits: a SUM of 50.7, 18, 17.6 and 43 is stored as
        # 129.29999999999998 and shown, and meant, as 129.3.
        value = Decimal(f"{cell:.15g}")
    else:
        text = re.sub(r"\s", "", cell_text(cell))
        if text in BLANK_AMOUNTS:
            return 0
        parsed = _decimal(text, unit)
        if parsed is None:
            raise _CellError(f'"{cell_text(cell)}" is not an amount')
        value = parsed
    return _in_dong(value, unit, cell_text(cell))


def _in_dong(value: Decimal, unit: Unit, shown: str) -> int:
    dong = value * UNIT_FACTOR[unit]
    if dong < 0:
        raise _CellError(f'"{shown}" is negative')
    if dong != dong.to_integral_value():
        raise _CellError(f'"{shown}" is not a whole number of đồng')
    if dong > MAX_AMOUNT:
        raise _CellError(f'"{shown}" is more than {MAX_AMOUNT:,} đồng')
    return int(dong)


def _decimal(text: str, unit: Unit) -> Decimal | None:
    """A typed number: `50,7` or `50.7`; `50.700.000`, `50,700,000` or `1.234,5` grouped.

    With one separator used once, it is the decimal mark, except in đồng before exactly
    three digits (`700.000`), where it groups thousands.
    """
    if not AMOUNT_TEXT.match(text):
        return None
    marks = set(re.findall(r"[.,]", text))
    if len(marks) == 2:
        decimal_mark = text[max(text.rfind("."), text.rfind(","))]
        whole, _, fraction = text.rpartition(decimal_mark)
        digits = _ungrouped(whole, ({".", ","} - {decimal_mark}).pop())
        return None if digits is None else Decimal(f"{digits}.{fraction}")
    if not marks:
        return Decimal(text)
    mark = marks.pop()
    groups = text.split(mark)
    if len(groups) > 2 or (unit == "dong" and len(groups[1]) == 3):
        digits = _ungrouped(text, mark)
        return None if digits is None else Decimal(digits)
    return Decimal(f"{groups[0]}.{groups[1]}")


def _ungrouped(text: str, separator: str) -> str | None:
    """The digits of `1.234.567`, or None when the groups are not thousands."""
    head, *groups = text.split(separator)
    if groups and not (1 <= len(head) <= 3 and all(len(g) == 3 for g in groups)):
        return None
    return head + "".join(groups)
