"""`docs/personal-data.md` maps every column of the four databases: personal or not, no gaps.

Read from the models' metadata only: no service is started and no database is opened. A column
added to a model fails here until the map says whether it holds personal data.
"""

import re
from collections import Counter
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from sqlalchemy import MetaData

import services.clubs.app  # noqa: F401  (imports every clubs model module)
from gateway.tables import metadata as gateway_metadata
from services.clubs.models import ClubsBase
from services.funding.tables import metadata as funding_metadata
from services.loans.tables import metadata as loans_metadata

DOC = Path(__file__).resolve().parent.parent / "docs" / "personal-data.md"
DOC_NAME = "docs/personal-data.md"
PERSONAL_SECTION = "## Personal fields"
NO_PERSONAL_SECTION = "## Fields that hold no personal data"
CATEGORIES = frozenset({"basic", "sensitive"})
METADATA: dict[str, MetaData] = {
    "clubs": ClubsBase.metadata,
    "loans": loans_metadata,
    "funding": funding_metadata,
    "gateway": gateway_metadata,
}
SHARED_TABLES = frozenset(
    {
        "idempotency_keys",
        "outbox_events",
        "outbox_relays",
        "consumed_events",
        "dead_letters",
        "event_cursors",
        "jobs",
        "sync_clock",
        "sync_tombstones",
    }
)
"""Plumbing declared by `common/` in each database that needs it: one entry covers them all."""

NAME = r"[a-z][a-z0-9_]*"
FIELD_CELL = re.compile(rf"^`(?P<table>{NAME})\.(?P<column>{NAME})`$")
TABLE_LINE = re.compile(rf"^- `(?P<table>{NAME})`:(?P<rest>.*)$")
COLUMN_LIST = re.compile(rf"^ `{NAME}`(?:, `{NAME}`)*$")
COLUMN = re.compile(rf"`({NAME})`")
HEADER_CELLS = 8
"""field, component, category, why, legal basis, who may read, where it travels, kept."""


@dataclass(frozen=True)
class PersonalRow:
    line: int
    table: str
    column: str
    components: tuple[str, ...]
    category: str
    cells: tuple[str, ...]


@dataclass(frozen=True)
class PlainLine:
    line: int
    table: str
    columns: tuple[str, ...]


@cache
def doc_lines() -> tuple[str, ...]:
    return tuple(DOC.read_text(encoding="utf-8").splitlines())


def section(heading: str) -> list[tuple[int, str]]:
    """The numbered lines under a `## ` heading, up to the next one."""
    lines = doc_lines()
    assert heading in lines, f"{DOC_NAME} has no section {heading!r}"
    start = lines.index(heading) + 1
    found = []
    for number, line in enumerate(lines[start:], start=start + 1):
        if line.startswith("## "):
            break
        found.append((number, line))
    return found


def cells_of(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().removeprefix("|").removesuffix("|").split("|")]


@cache
def personal_rows() -> tuple[PersonalRow, ...]:
    rows = []
    for number, line in section(PERSONAL_SECTION):
        if not line.startswith("|"):
            continue
        cells = cells_of(line)
        field = FIELD_CELL.match(cells[0])
        if field is None:
            continue  # the header and its rule
        components = tuple(part.strip() for part in cells[1].split(",")) if len(cells) > 1 else ()
        category = cells[2] if len(cells) > 2 else ""
        rows.append(
            PersonalRow(number, field["table"], field["column"], components, category, tuple(cells))
        )
    return tuple(rows)


@cache
def plain_lines() -> tuple[PlainLine, ...]:
    found = []
    for number, line in section(NO_PERSONAL_SECTION):
        listed = TABLE_LINE.match(line)
        if listed is None:
            continue
        rest = listed["rest"]
        assert COLUMN_LIST.match(rest), (
            f"{DOC_NAME}:{number}: write it as - `table`: `column`, `column`, ... : {line!r}"
        )
        found.append(PlainLine(number, listed["table"], tuple(COLUMN.findall(rest))))
    return tuple(found)


def schema() -> dict[str, dict[str, tuple[str, ...]]]:
    """Each table's columns, by component."""
    return {
        component: {table.name: tuple(table.columns.keys()) for table in metadata.tables.values()}
        for component, metadata in METADATA.items()
    }


def components_of() -> dict[str, tuple[str, ...]]:
    """The components that have each table."""
    holders: dict[str, list[str]] = {}
    for component, tables in schema().items():
        for table in tables:
            holders.setdefault(table, []).append(component)
    return {table: tuple(components) for table, components in holders.items()}


def columns_by_table() -> dict[str, tuple[str, ...]]:
    """Each table's columns; a table shared by components has the same columns in each."""
    found: dict[str, tuple[str, ...]] = {}
    for tables in schema().values():
        for table, columns in tables.items():
            found.setdefault(table, columns)
    return found


def test_the_four_schemas_are_read() -> None:
    tables = components_of()
    assert {"members", "bank_loans", "funders", "users"} <= set(tables)
    assert sum(len(columns) for columns in columns_by_table().values()) > 300


def test_only_the_plumbing_tables_are_in_several_databases() -> None:
    """So that `table.column` names one column, or the same column of the same plumbing."""
    shared = {table: where for table, where in components_of().items() if len(where) > 1}
    unexpected = sorted(set(shared) - SHARED_TABLES)
    assert not unexpected, (
        f"tables in several databases: {unexpected}; rename them, or add them to SHARED_TABLES "
        f"here and say so in {DOC_NAME}"
    )
    tables = schema()
    for table, where in shared.items():
        shapes = {component: set(tables[component][table]) for component in where}
        assert len({frozenset(columns) for columns in shapes.values()}) == 1, (
            f"{table} has other columns in {', '.join(where)}: {shapes}; one row of "
            f"{DOC_NAME} cannot describe both"
        )


def test_the_document_has_both_lists() -> None:
    assert len(personal_rows()) > 0, f"{DOC_NAME} lists no personal field"
    assert len(plain_lines()) > 0, f"{DOC_NAME} lists no field without personal data"


def test_every_column_is_mapped_exactly_once() -> None:
    actual = {
        f"{table}.{column}" for table, columns in columns_by_table().items() for column in columns
    }
    listed: Counter[str] = Counter()
    for row in personal_rows():
        listed[f"{row.table}.{row.column}"] += 1
    for plain in plain_lines():
        listed.update(f"{plain.table}.{column}" for column in plain.columns)
    problems = [
        f"{name} is in no list of {DOC_NAME}: say whether it is personal data"
        for name in sorted(actual - set(listed))
    ]
    problems += [
        f"{name} is in {DOC_NAME} but no table has it: remove it"
        for name in sorted(set(listed) - actual)
    ]
    problems += [
        f"{name} is listed {count} times in {DOC_NAME}: keep one"
        for name, count in sorted(listed.items())
        if count > 1
    ]
    assert not problems, "\n".join(problems)


def test_a_table_line_is_listed_once() -> None:
    counts = Counter(plain.table for plain in plain_lines())
    repeated = sorted(table for table, count in counts.items() if count > 1)
    assert not repeated, f"tables with several lines in {NO_PERSONAL_SECTION!r}: {repeated}"


def test_every_personal_row_is_complete() -> None:
    problems = []
    for row in personal_rows():
        name = f"{row.table}.{row.column}"
        if len(row.cells) != HEADER_CELLS:
            problems.append(
                f"{DOC_NAME}:{row.line}: {name} has {len(row.cells)} cells, not {HEADER_CELLS}"
            )
        elif not all(row.cells):
            problems.append(f"{DOC_NAME}:{row.line}: {name} has an empty cell")
    assert not problems, "\n".join(problems)


def test_categories_are_basic_or_sensitive() -> None:
    wrong = [
        f"{DOC_NAME}:{row.line}: {row.table}.{row.column} is {row.category!r}, "
        f"not one of {sorted(CATEGORIES)}"
        for row in personal_rows()
        if row.category not in CATEGORIES
    ]
    assert not wrong, "\n".join(wrong)


def test_each_row_names_the_components_that_have_its_table() -> None:
    holders = components_of()
    wrong = []
    for row in personal_rows():
        expected = holders.get(row.table)
        if expected is None:
            continue  # reported as an unknown column
        if set(row.components) != set(expected) or len(row.components) != len(expected):
            wrong.append(
                f"{DOC_NAME}:{row.line}: {row.table}.{row.column} says "
                f"{', '.join(row.components)!r}; the table is in {', '.join(expected)}"
            )
    assert not wrong, "\n".join(wrong)
