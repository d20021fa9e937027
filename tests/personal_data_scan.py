"""After all tests: no citizen ID and no phone number in plain text in any database or log,
and no name or birth date in any event or log.

The IDs and phones looked for are every ID the tests made (`factories.ISSUED_IDS`, refused
ones too) and every ID and phone number the databases hold sealed (opened with the services'
keys): each text cell of every table of the four databases, and every line of every
component's log, is searched for 12-digit and 10-digit tokens that are one of them. The names
(members' and borrowers') and birth dates (before 2000: every business date is later) the
databases hold are looked for in every event of the four outboxes (what the feeds are made
of), every webhook body the gateway posted, and every log line.
"""

import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from sqlalchemy import MetaData, select

from common.db import make_engine
from common.sealing import keyring
from services.clubs.models import NATIONAL_ID, PHONE
from services.loans.bank.models import BORROWER_ID
from tests.factories import ISSUED_IDS
from tools.stack import Stack

TOKENS = re.compile(r"(?<![0-9])(?:[0-9]{12}|0[0-9]{9})(?![0-9])")
SEALED = (
    ("clubs", "members", "national_id", NATIONAL_ID),
    ("clubs", "members", "phone", PHONE),
    ("loans", "bank_loans", "borrower_national_id_sealed", BORROWER_ID),
)


Dump = dict[str, dict[str, list[dict[str, object]]]]
"""component → table → rows, as stored (sealed values not opened)."""


def dump(stack: Stack) -> Dump:
    """Every row of every table of the four databases, read once."""
    found: Dump = {}
    for component, url in stack.database_urls.items():
        engine = make_engine(url)
        try:
            metadata = MetaData()
            metadata.reflect(engine)
            with engine.connect() as connection:
                found[component] = {
                    table.name: [dict(row._mapping) for row in connection.execute(select(table))]
                    for table in metadata.sorted_tables
                }
        finally:
            engine.dispose()
    return found


def personal_values(tables: Dump) -> set[str]:
    keys = keyring()
    values = set(ISSUED_IDS)
    for component, table, column, purpose in SEALED:
        for row in tables[component].get(table, []):
            sealed = row.get(column)
            if isinstance(sealed, str):
                values.add(keys.open(sealed, purpose))
    return values


def _database_texts(tables: Dump) -> Iterator[tuple[str, str]]:
    for component, by_table in tables.items():
        for table, rows in by_table.items():
            for row in rows:
                for column, value in row.items():
                    if isinstance(value, str | dict | list):
                        yield f"{component} database, {table}.{column}", str(value)


def _log_texts(log_dir: Path) -> Iterator[tuple[str, str]]:
    for path in sorted(log_dir.glob("*.log")):
        with path.open(encoding="utf-8", errors="replace") as lines:
            for number, line in enumerate(lines, start=1):
                yield f"{path.name} line {number}", line


def names_and_births(tables: Dump) -> set[str]:
    """Members' and borrowers' names, and birth dates before 2000 as ISO text."""
    found: set[str] = set()
    for row in tables["clubs"].get("members", []):
        found.add(str(row["full_name"]))
        born = row.get("birth_date")
        if born is not None and str(born) < "2000":
            found.add(str(born))
    for row in tables["loans"].get("bank_loans", []):
        found.add(str(row["borrower_name"]))
    return {value for value in found if len(value) >= 6}


def _event_texts(tables: Dump) -> Iterator[tuple[str, str]]:
    for component, by_table in tables.items():
        for row in by_table.get("outbox_events", []):
            yield f"{component} event {row['event_id']}", str(row["data"])
    # What was posted to subscribers, byte for byte (kept for retries and redelivery).
    for row in tables["gateway"].get("webhook_event_bodies", []):
        yield f"webhook body {row['id']}", str(row["body"])


def mentions(texts: Iterable[tuple[str, str]], values: set[str]) -> list[str]:
    """Where one of `values` (names, dates) stands in a text."""
    return [
        f"{where}: a {'date' if value[:1].isdigit() else 'name'} ({len(value)} characters)"
        for where, text in texts
        for value in values
        if value in text
    ]


def findings(texts: Iterable[tuple[str, str]], personal: set[str]) -> list[str]:
    """Where a personal value stands in plain text (the value masked but for its last 3)."""
    found = []
    for where, text in texts:
        for token in TOKENS.findall(text):
            if token in personal:
                found.append(f"{where}: …{token[-3:]}")
    return found


def scan(stack: Stack, log_dir: Path) -> list[str]:
    tables = dump(stack)
    personal = personal_values(tables)
    described = names_and_births(tables)
    return (
        findings(_database_texts(tables), personal)
        + findings(_log_texts(log_dir), personal)
        + mentions(_event_texts(tables), described)
        + mentions(_log_texts(log_dir), described)
    )
