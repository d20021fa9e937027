"""Bulk reads and writes of bank loans: one statement per step, whatever the batch size.

On PostgreSQL the rows go in with COPY (new loans straight into `bank_loans`, changed ones
through a temporary table and one `UPDATE … FROM`), on the request's own connection and
transaction. SQLite, for development and tests, takes the same rows with `executemany`.
Nothing here commits.
"""

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from sqlalchemy import Result, bindparam, delete, func, insert, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session, SQLModel, col

from common.db import conflict_insert
from services.loans.bank.models import Bank, BankLoan, BankLoanVersion, BankMatchingDue
from services.loans.bank.rules import VALUE_FIELDS, LoanValues, Membership

MATCH_FIELDS = ("member_id", "club_id", "province_code", "commune_code", "matched_at")
POSTING_FIELDS = ("posting_id", "posting_outcome", "posted_by", "posted_at")
"""A loan's current posting, in the order of `Posting.columns`."""
LOAN_COLUMNS = (
    "id",
    "bank_code",
    "loan_number",
    *VALUE_FIELDS,
    *POSTING_FIELDS,
    *MATCH_FIELDS,
    "created_at",
    "updated_at",
)
CHANGE_COLUMNS = ("id", *VALUE_FIELDS, *POSTING_FIELDS, *MATCH_FIELDS)
VERSION_COLUMNS = ("id", "bank_loan_id", "outcome", *VALUE_FIELDS, "posted_by", "posted_at")
_BINARY_TYPES = {
    "Integer": "int4",
    "BigInteger": "int8",
    "AutoString": "text",
    "String": "text",
    "Date": "date",
    "UTCDateTime": "timestamptz",
    "SealedValues": "text",
}
_TAKE_IDS = """
WITH taken AS (SELECT nextval('{table}_id_seq') AS id FROM generate_series(1, :count))
SELECT CASE WHEN max(id) - min(id) + 1 = count(*) THEN ARRAY[min(id), max(id)]
    ELSE array_agg(id ORDER BY id) END
FROM taken
"""
"""Ids from a serial id's sequence (PostgreSQL names it `<table>_id_seq`): `[first, last]`
when they are one run (as they are unless another posting takes ids at the same moment), else
every one. The sequence by its literal name:
resolving it (pg_get_serial_sequence, a cast) is done per row and costs ten times the nextval
itself; and one value rather than 10,000 rows spares the service's CPU (docs/benchmarks.md)."""
SQLITE_CHUNK = 500
"""Values per `IN (…)` on SQLite, well under its limit on bound parameters."""

_CHANGES_TABLE = "bank_loan_changes"
_CREATE_CHANGES = f"""
CREATE TEMPORARY TABLE IF NOT EXISTS {_CHANGES_TABLE} ON COMMIT DELETE ROWS AS
    SELECT {", ".join(CHANGE_COLUMNS)}, updated_at FROM bank_loans WITH NO DATA
"""
_APPLY_CHANGES = f"""
UPDATE bank_loans AS loan SET {", ".join(f"{c} = change.{c}" for c in CHANGE_COLUMNS[1:])},
    updated_at = change.updated_at
FROM {_CHANGES_TABLE} AS change WHERE loan.id = change.id
"""


@dataclass(slots=True)
class Posting:
    """One posting of a loan's figures: its current one, or one for the history."""

    values: LoanValues
    outcome: str
    posted_by: str
    posted_at: datetime
    id: int | None = None
    """From the history's sequence; a posting made by this batch gets it before it is written."""

    def columns(self) -> tuple[Any, ...]:
        """As a loan's current posting, in `POSTING_FIELDS` order."""
        return self.id, self.outcome, self.posted_by, self.posted_at


@dataclass(slots=True)
class StoredLoan:
    """A loan's current row as the batch sees it: stored figures, then the batch's changes."""

    loan_number: str
    id: int | None
    posting: Posting
    membership: Membership | None
    matched_at: datetime | None
    stored_borrower: str | None
    """The borrower's blind index as stored before this batch (None for a loan the batch
    creates)."""
    changed: bool = False
    retracted: bool = False
    """The bank retracted the loan: its number takes no posting until it is reinstated."""

    @property
    def is_new(self) -> bool:
        return self.stored_borrower is None

    @property
    def values(self) -> LoanValues:
        return self.posting.values


def _is_postgres(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def lock_bank(session: Session, bank_code: str, now: datetime) -> None:
    """Serialise this bank's postings until the transaction ends (see `Bank`)."""
    table = Bank.__table__  # type: ignore[attr-defined]
    statement = conflict_insert(session, table).values(
        code=bank_code, postings=1, last_posted_at=now
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[col(Bank.code)],
            set_={"postings": Bank.postings + 1, "last_posted_at": now},
        )
    )


def current_loans(
    session: Session, bank_code: str, numbers: Sequence[str]
) -> dict[str, StoredLoan]:
    """The stored loans of this bank with these numbers, by number."""
    found: dict[str, StoredLoan] = {}
    value_end = 2 + len(VALUE_FIELDS)
    posting_end = value_end + len(POSTING_FIELDS)
    for rows in _wanted(session, bank_code, numbers):
        for row in rows:
            values = LoanValues(*row[2:value_end])
            posting_id, outcome, posted_by, posted_at = row[value_end:posting_end]
            posting = Posting(values, outcome, posted_by, posted_at, posting_id)
            member_id, club_id, province, commune, matched_at, retracted_at = row[posting_end:]
            membership = (
                Membership(member_id, club_id, province, commune) if member_id is not None else None
            )
            found[row[0]] = StoredLoan(
                row[0], row[1], posting, membership, matched_at, values[0],
                retracted=retracted_at is not None,
            )  # fmt: skip
    return found


_READ_FIELDS = (*VALUE_FIELDS, *POSTING_FIELDS, *MATCH_FIELDS, "retracted_at")
_CURRENT_COLUMNS = [col(BankLoan.loan_number), col(BankLoan.id)] + [
    getattr(BankLoan, name) for name in _READ_FIELDS
]
_PROBE = f"""
SELECT loan.* FROM unnest(string_to_array(:numbers, ' ')) AS wanted(loan_number)
CROSS JOIN LATERAL (
    SELECT {", ".join(("loan_number", "id", *_READ_FIELDS))}
    FROM bank_loans
    WHERE bank_code = :bank_code AND loan_number = wanted.loan_number LIMIT 1
) AS loan
"""


def _wanted(
    session: Session, bank_code: str, numbers: Sequence[str]
) -> Iterator[Result[*tuple[Any, ...]]]:
    """The bank's loans among these numbers.

    PostgreSQL: one probe of the unique index per number, whatever the statistics say (with
    `loan_number = ANY(…)` and a table not analysed since it grew, the planner read every loan of
    the bank and filtered them, a cost that grows with the bank's book). `LIMIT 1` keeps the
    planner from turning the probes into a join. The numbers travel as one string, split on
    spaces, which the loan number's pattern excludes: psycopg builds a 10,000-element array
    parameter slowly, in Python. SQLite: chunks of `IN`. Figures: docs/benchmarks.md.
    """
    if _is_postgres(session):
        columns = {column.key: column.type for column in _CURRENT_COLUMNS}
        probe = text(_PROBE).columns(**columns)  # typed as the columns (matched_at in UTC)
        yield session.execute(probe, {"numbers": " ".join(numbers), "bank_code": bank_code})
        return
    query = select(*_CURRENT_COLUMNS).where(col(BankLoan.bank_code) == bank_code)
    for start in range(0, len(numbers), SQLITE_CHUNK):
        chunk = numbers[start : start + SQLITE_CHUNK]
        yield session.execute(query.where(col(BankLoan.loan_number).in_(chunk)))


def new_ids(
    session: Session, table: type[BankLoan] | type[BankLoanVersion], count: int
) -> list[int]:
    """Ids for new rows of `table`, taken before the rows are written (other rows refer to
    them first: the history to new loans, loans to their current posting).

    SQLite hands out max(id) + 1 itself (a posting's id is also taken by the loan it is current
    for); the bank's lock is SQLite's write lock, so no other writer can take these meanwhile.
    """
    if count == 0:
        return []
    if _is_postgres(session):
        statement = text(_TAKE_IDS.format(table=table.__tablename__))
        taken = session.execute(statement, {"count": count}).scalar_one()
        # Every id, or the run's ends (for two ids, the ends are every id).
        return taken if len(taken) == count else list(range(taken[0], taken[1] + 1))
    highest = session.execute(select(func.coalesce(func.max(table.id), 0))).scalar_one()
    if table is BankLoanVersion:
        current = select(func.coalesce(func.max(BankLoan.posting_id), 0))
        highest = max(highest, session.execute(current).scalar_one())
    return list(range(highest + 1, highest + 1 + count))


def _binary_types(table: str, columns: Sequence[str]) -> list[str]:
    """The PostgreSQL types of these columns, which a binary COPY must name."""
    definition: type[SQLModel] = {"bank_loan_changes": BankLoan, "bank_loans": BankLoan}.get(
        table, BankLoanVersion
    )
    found = definition.__table__.c  # type: ignore[attr-defined]  # SQLModel does not declare it
    return [_BINARY_TYPES[type(found[name].type).__name__] for name in columns]


@contextmanager
def _copying(
    session: Session, table: str, columns: Sequence[str], rows: Iterable[tuple[Any, ...]]
) -> Iterator[None]:
    """Binary COPY on the session's own psycopg connection: the rows are sent on entering, the
    body of the `with` runs while PostgreSQL is still storing them (it is the slower side), and
    leaving waits for it.

    Binary rather than text: psycopg formats dates and timestamps as text several times slower
    than it packs them. Errors become SQLAlchemy's, so the problem handlers sort them (a
    conflict, a database that is down) as for any statement.
    """
    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT BINARY)"
    connection = session.connection().connection.driver_connection
    assert connection is not None  # the session's connection is open: it runs this transaction
    try:
        with connection.cursor() as cursor, cursor.copy(statement) as copy:
            copy.set_types(_binary_types(table, columns))
            for row in rows:
                copy.write_row(row)
            yield
    except psycopg.Error as exc:
        raise DBAPIError.instance(statement, None, exc, psycopg.Error) from exc


def _copy(
    session: Session, table: str, columns: Sequence[str], rows: Iterable[tuple[Any, ...]]
) -> None:
    with _copying(session, table, columns, rows):
        pass


@contextmanager
def inserting_loans(session: Session, rows: Iterable[tuple[Any, ...]]) -> Iterator[None]:
    """New current rows (at least one), in `LOAN_COLUMNS` order, stored while the body of the
    `with` runs (on PostgreSQL they may be made while they are sent; SQLite stores them first)."""
    if _is_postgres(session):
        with _copying(session, "bank_loans", LOAN_COLUMNS, rows):
            yield
        return
    session.execute(insert(BankLoan), [dict(zip(LOAN_COLUMNS, row, strict=True)) for row in rows])
    yield


def update_loans(session: Session, rows: list[tuple[Any, ...]], now: datetime) -> None:
    """Changed current rows, in `CHANGE_COLUMNS` order."""
    if not rows:
        return
    if _is_postgres(session):
        session.execute(text(_CREATE_CHANGES))
        _copy(
            session, _CHANGES_TABLE, (*CHANGE_COLUMNS, "updated_at"), ((*row, now) for row in rows)
        )
        session.execute(text(_APPLY_CHANGES))
        return
    names = [f"new_{name}" for name in CHANGE_COLUMNS]
    table = BankLoan.__table__  # type: ignore[attr-defined]
    statement = (
        update(BankLoan)
        .where(col(BankLoan.id) == bindparam(names[0]))
        .values(
            {
                name: bindparam(new, type_=table.c[name].type)
                for name, new in zip(CHANGE_COLUMNS[1:], names[1:], strict=True)
            }
        )
        .values(updated_at=now)
        .execution_options(synchronize_session=False)
    )
    session.connection().execute(statement, [dict(zip(names, row, strict=True)) for row in rows])


def insert_versions(session: Session, rows: Iterable[tuple[Any, ...]]) -> None:
    """Postings for the history (at least one), in `VERSION_COLUMNS` order; on PostgreSQL they
    may be made while they are sent."""
    if _is_postgres(session):
        _copy(session, "bank_loan_versions", VERSION_COLUMNS, rows)
        return
    session.execute(
        insert(BankLoanVersion), [dict(zip(VERSION_COLUMNS, row, strict=True)) for row in rows]
    )


def _unmatched() -> list[Any]:
    return [col(BankLoan.member_id).is_(None), col(BankLoan.retracted_at).is_(None)]


def count_unmatched(session: Session) -> int:
    return int(session.execute(select(func.count()).where(*_unmatched())).scalar_one())


def unmatched_loans(session: Session, after_id: int, limit: int) -> list[tuple[int, str]]:
    """(id, borrower's blind index) of unmatched loans after `after_id`, in id order."""
    rows = session.execute(
        select(col(BankLoan.id), col(BankLoan.borrower_blind_index))
        .where(*_unmatched(), col(BankLoan.id) > after_id)
        .order_by(col(BankLoan.id))
        .limit(limit)
    )
    return [(row[0], row[1]) for row in rows]


def set_matches(session: Session, matches: list[tuple[int, Membership]], now: datetime) -> None:
    """Matches found later; a loan matched meanwhile (by a newer posting) or retracted is left
    alone."""
    if not matches:
        return
    statement = (
        update(BankLoan)
        .where(
            col(BankLoan.id) == bindparam("loan_id"),
            col(BankLoan.member_id).is_(None),
            col(BankLoan.retracted_at).is_(None),
        )
        .values(
            member_id=bindparam("new_member_id"),
            club_id=bindparam("new_club_id"),
            province_code=bindparam("new_province_code"),
            commune_code=bindparam("new_commune_code"),
            matched_at=now,
            updated_at=now,
        )
        .execution_options(synchronize_session=False)
    )
    session.connection().execute(
        statement,
        [
            {
                "loan_id": loan_id,
                "new_member_id": found.member_id,
                "new_club_id": found.club_id,
                "new_province_code": found.province_code,
                "new_commune_code": found.commune_code,
            }
            for loan_id, found in matches
        ],
    )


def mark_matching_due(session: Session, loan_ids: Sequence[int], due_at: datetime) -> None:
    """Loans stored unmatched because the clubs service could not answer: asked again later."""
    if not loan_ids:
        return
    table = BankMatchingDue.__table__  # type: ignore[attr-defined]
    session.execute(
        conflict_insert(session, table).on_conflict_do_nothing(index_elements=["loan_id"]),
        [{"loan_id": loan_id, "due_at": due_at, "attempts": 0} for loan_id in loan_ids],
    )


def matching_due(session: Session, now: datetime, limit: int) -> list[tuple[int, str | None]]:
    """(loan id, borrower's blind index) of loans whose matching is due, the oldest first; a
    loan matched or retracted meanwhile has None (nothing to ask)."""
    rows = session.execute(
        select(
            col(BankMatchingDue.loan_id),
            col(BankLoan.borrower_blind_index),
            col(BankLoan.member_id).is_(None) & col(BankLoan.retracted_at).is_(None),
        )
        .join(BankLoan, col(BankLoan.id) == col(BankMatchingDue.loan_id), isouter=True)
        .where(col(BankMatchingDue.due_at) <= now)
        .order_by(col(BankMatchingDue.due_at), col(BankMatchingDue.loan_id))
        .limit(limit)
    )
    return [(row[0], row[1] if row[2] else None) for row in rows]


def matching_done(session: Session, loan_ids: Sequence[int]) -> None:
    session.execute(delete(BankMatchingDue).where(col(BankMatchingDue.loan_id).in_(loan_ids)))


def matching_postponed(session: Session, loan_ids: Sequence[int], due_at: datetime) -> None:
    session.execute(
        update(BankMatchingDue)
        .where(col(BankMatchingDue.loan_id).in_(loan_ids))
        .values(due_at=due_at, attempts=BankMatchingDue.attempts + 1)
    )
