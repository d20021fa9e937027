"""Reading the first sheet of an uploaded CSV or XLSX file, the way people keep tables today.

What a sheet means is each service's business; this module only turns the bytes into rows of
cells (with the row numbers the user sees), refusing what is not a readable table: 415 for a
file type it does not read, 422 for an empty, broken or oversized file.
"""

import csv
import io
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePath
from typing import Any, Literal

from openpyxl import load_workbook

from common.problem_codes import Code
from common.problems import UnsupportedMediaType, ValidationFailed, field_error
from common.text import fold

MAX_COLUMNS = 100
BLANK_ROWS_TO_STOP = 200
"""A sheet formatted far below its last row ends after this many blank rows in a row."""

Format = Literal["csv", "xlsx"]
Row = tuple[int, list[Any]]
"""A row number as the user sees it, and the row's cells."""

_WORKBOOK_ERRORS = (zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError)


@dataclass(frozen=True)
class Upload:
    """A file as it arrived: its bytes, and what its sender said it is."""

    data: bytes
    file_name: str | None = None
    content_type: str | None = None


@dataclass(frozen=True)
class SheetKind:
    """What one kind of table may hold, and how refusals name it."""

    name: str
    """What the user calls the file, e.g. "member list"."""
    max_rows: int
    """Non-blank rows read at most, title and header rows included."""
    too_many_rows: str
    """The reason given for a file with more rows."""
    max_unpacked_bytes: int
    """An .xlsx unpacking to more is refused (a zip bomb)."""
    separator_lines: int = 1
    """Lines of a CSV whose separators decide the delimiter."""


def file_refused(reason: str, code: Code = Code.UNREADABLE_FILE) -> ValidationFailed:
    """A 422 about the whole file."""
    return ValidationFailed(f"file: {reason}", errors=[field_error("file", reason, code=code)])


def label_key(text: str) -> str:
    """How headers and labels compare: folded, without parenthesised hints or punctuation."""
    folded = re.sub(r"\(.*?\)", " ", fold(text))
    return " ".join(re.sub(r"[^a-z0-9]+", " ", folded).split())


def cell_text(cell: Any) -> str:
    """A cell as text, stripped; whole numbers without Excel's ".0"."""
    if cell is None:
        return ""
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    return str(cell).strip()


def is_blank(cells: list[Any]) -> bool:
    return all(cell is None or (isinstance(cell, str) and not cell.strip()) for cell in cells)


def detect_format(upload: Upload, kind: SheetKind) -> Format:
    """CSV or XLSX, from the file's first bytes, its name and its declared type (415 if none)."""
    suffix = PurePath(upload.file_name or "").suffix.lower()
    if not upload.data:
        raise file_refused("is empty")
    if suffix == ".xls" or upload.data.startswith(b"\xd0\xcf\x11\xe0"):
        raise UnsupportedMediaType(
            "Old .xls workbooks are not read; save the sheet as .xlsx or CSV.",
            code=Code.UNSUPPORTED_FILE_TYPE,
        )
    if suffix not in ("", ".csv", ".txt", ".xlsx", ".xlsm"):
        raise UnsupportedMediaType(
            f"A {suffix} file is not read; send a .csv or .xlsx file.",
            code=Code.UNSUPPORTED_FILE_TYPE,
        )
    if upload.data.startswith(b"PK\x03\x04"):
        return "xlsx"
    if suffix in (".xlsx", ".xlsm"):
        raise file_refused("is not a readable .xlsx workbook")
    media_type = (upload.content_type or "").split(";")[0].strip().lower()
    if suffix in (".csv", ".txt") or media_type.startswith("text/"):
        return "csv"
    raise UnsupportedMediaType(
        f"Send the {kind.name} as a .csv or .xlsx file.", code=Code.UNSUPPORTED_FILE_TYPE
    )


def read_rows(upload: Upload, kind: SheetKind) -> tuple[Format, list[Row]]:
    """The file's format and the non-blank rows of its first sheet, up to a long blank tail.

    Raises 415 for a file that is not CSV/XLSX, 422 for an empty, unreadable or too large one.
    """
    file_format = detect_format(upload, kind)
    if file_format == "xlsx":
        rows = _xlsx_rows(upload.data, kind.max_unpacked_bytes)
    else:
        rows = _csv_rows(upload.data, kind.separator_lines)
    return file_format, _until_blank_tail(rows, kind)


def _decode(data: bytes) -> str:
    # Excel writes CSV as UTF-8 (with a BOM), as "Unicode text" (UTF-16) or in the Windows
    # code page of a Vietnamese system (1258).
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    if b"\x00" in data:
        raise file_refused("is not CSV text")
    for encoding in ("utf-8-sig", "cp1258"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise file_refused("is not CSV text in UTF-8 or Windows-1258")


def _delimiter(text: str, lines: int) -> str:
    """The separator used most on one of the first lines: Vietnamese Excel writes `;`.

    Title lines typed above the header may have no separator at all, so the line with the most
    separators decides; quoted text is left out, as its commas separate nothing.
    """
    firsts = [re.sub(r'"[^"]*"', "", line) for line in text.splitlines() if line.strip()][:lines]

    def most_on_a_line(separator: str) -> int:
        return max((line.count(separator) for line in firsts), default=0)

    return max((",", ";", "\t"), key=most_on_a_line)


def _csv_rows(data: bytes, separator_lines: int) -> Iterator[Row]:
    text = _decode(data)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text, separator_lines))
    try:
        for number, cells in enumerate(reader, start=1):
            yield number, cells[:MAX_COLUMNS]
    except csv.Error as exc:
        raise file_refused(f"is not valid CSV: {exc}") from None


def _check_unpacked_size(data: bytes, max_bytes: int) -> None:
    """Refuses a workbook that unpacks to far more than any such table (a zip bomb)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError):
        raise file_refused("is not a readable .xlsx workbook") from None
    if unpacked > max_bytes:
        raise file_refused(f"unpacks to more than {max_bytes // 2**20} MB")


def _xlsx_rows(data: bytes, max_unpacked_bytes: int) -> Iterator[Row]:
    _check_unpacked_size(data, max_unpacked_bytes)
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except _WORKBOOK_ERRORS as exc:
        raise file_refused(f"is not a readable .xlsx workbook ({type(exc).__name__})") from None
    try:
        sheet = workbook.worksheets[0]
        rows = sheet.iter_rows(min_row=1, max_col=MAX_COLUMNS, values_only=True)
        for number, cells in enumerate(rows, start=1):
            yield number, list(cells)
    except _WORKBOOK_ERRORS as exc:
        raise file_refused(f"is not a readable .xlsx workbook ({type(exc).__name__})") from None
    finally:
        workbook.close()


def _until_blank_tail(rows: Iterator[Row], kind: SheetKind) -> list[Row]:
    """The non-blank rows up to a long run of blank ones, refusing sheets beyond the row cap."""
    kept: list[Row] = []
    blanks = 0
    for number, cells in rows:
        if is_blank(cells):
            blanks += 1
            if blanks >= BLANK_ROWS_TO_STOP:
                break
            continue
        blanks = 0
        if len(kept) >= kind.max_rows:
            raise file_refused(kind.too_many_rows, Code.TOO_MANY_ROWS)
        kept.append((number, cells))
    return kept
