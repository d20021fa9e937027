"""What a database error means, told without the values it carries (they may be personal data).

The drivers' own messages name the offending values (PostgreSQL's "Key (national_id)=(…)
already exists"), so answers and logs are built from the kind of error, the constraint and
the column names only.
"""

import re
import sqlite3
from dataclasses import dataclass
from typing import Literal

import psycopg
from psycopg import errors as pg
from sqlalchemy.exc import DBAPIError, IntegrityError

IntegrityKind = Literal["unique", "foreign_key", "check", "not_null", "unknown"]
_PG_KINDS: dict[str, IntegrityKind] = {
    "23505": "unique",
    "23503": "foreign_key",
    "23514": "check",
    "23502": "not_null",
}
_SQLITE_KINDS: dict[str, IntegrityKind] = {
    "UNIQUE": "unique",
    "FOREIGN KEY": "foreign_key",
    "CHECK": "check",
    "NOT NULL": "not_null",
}
_REASONS: dict[IntegrityKind, str] = {
    "unique": "is already taken",
    "foreign_key": "refers to a record that does not exist (or is still referred to)",
    "check": "breaks a rule of the stored data",
    "not_null": "is required",
    "unknown": "breaks a database constraint",
}
_PG_KEY = re.compile(r"Key \((.+?)\)=")
_SQLITE_FAILED = re.compile(r"^(UNIQUE|FOREIGN KEY|CHECK|NOT NULL) constraint failed(?:: (.*))?$")
_SQLITE_LOCKED = ("database is locked", "database table is locked", "database schema is locked")
_PG_LOCKS = (pg.LockNotAvailable, pg.DeadlockDetected, pg.SerializationFailure)
_SERVER_STATES = ("", "08", "53", "57", "58")
"""Connection, resources, operator, system: their messages say what happened to the server,
never a value of the statement."""


@dataclass(frozen=True)
class IntegrityCause:
    kind: IntegrityKind
    fields: tuple[str, ...]
    constraint: str | None

    @property
    def reason(self) -> str:
        return _REASONS[self.kind]

    def describe(self) -> str:
        return f"{self.kind} constraint={self.constraint or '?'} fields={','.join(self.fields)}"


def integrity_cause(exc: IntegrityError) -> IntegrityCause:
    orig = exc.orig
    if isinstance(orig, psycopg.Error):
        return _pg_cause(orig)
    if isinstance(orig, sqlite3.Error):
        return _sqlite_cause(str(orig.args[0]) if orig.args else "")
    return IntegrityCause("unknown", (), None)


def _pg_cause(error: psycopg.Error) -> IntegrityCause:
    diag = error.diag
    kind = _PG_KINDS.get(error.sqlstate or "", "unknown")
    if diag.column_name:
        fields: tuple[str, ...] = (diag.column_name,)
    else:
        found = _PG_KEY.match(diag.message_detail or "")
        fields = tuple(name.strip() for name in found.group(1).split(",")) if found else ()
    return IntegrityCause(kind, fields, diag.constraint_name)


def _sqlite_cause(message: str) -> IntegrityCause:
    found = _SQLITE_FAILED.match(message)
    if found is None:
        return IntegrityCause("unknown", (), None)
    kind = _SQLITE_KINDS[found.group(1)]
    named = found.group(2) or ""
    if kind == "check":
        return IntegrityCause(kind, (), named or None)
    # "UNIQUE constraint failed: members.club_id, members.national_id"
    fields = tuple(part.strip().rsplit(".", 1)[-1] for part in named.split(",") if part.strip())
    return IntegrityCause(kind, fields, None)


def lock_contention(exc: DBAPIError) -> str | None:
    """Which lock a statement waited for in vain, if that is what failed (else None)."""
    orig = exc.orig
    if isinstance(orig, sqlite3.OperationalError) and str(orig).startswith(_SQLITE_LOCKED):
        return f"SQLite write lock ({orig})"
    if isinstance(orig, _PG_LOCKS):
        return f"PostgreSQL {type(orig).__name__} ({orig.sqlstate})"
    return None


def describe(exc: DBAPIError) -> str:
    """The error's kind and where it arose, without the statement's values: PostgreSQL's own
    messages may quote them (`invalid input syntax for type date: "…"`), so they are left out."""
    orig = exc.orig
    if isinstance(orig, psycopg.Error):
        diag = orig.diag
        where = [
            f"{name}={value}"
            for name, value in (
                ("table", diag.table_name),
                ("column", diag.column_name),
                ("constraint", diag.constraint_name),
            )
            if value
        ]
        if (orig.sqlstate or "")[:2] in _SERVER_STATES:
            where.append(diag.message_primary or str(orig).splitlines()[0])
        return f"{type(orig).__name__} {orig.sqlstate or '-'} {' '.join(where)}".rstrip()
    if isinstance(orig, sqlite3.Error):
        return f"{type(orig).__name__}: {orig}"
    return type(orig).__name__
