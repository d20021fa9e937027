"""Offline sync: the rows of a list that changed after a token, exactly, on both databases.

A board's phone app keeps its club's lists offline and asks "what changed since I last synced".
A timestamp cannot answer it: two transactions stamp rows in one order and commit in the other,
so a reader between the two commits takes a token past a change it never saw. So every synced
table carries `sync_stamp`, set by the database itself on every insert and update (triggers,
so no write path can forget it, bulk updates included):
- PostgreSQL stamps the writing transaction's id; a token is the oldest transaction still
  running when the read began (`pg_snapshot_xmin`). Every transaction below it had finished, so
  its rows were read; every one at or above it is returned by the next sync (`stamp >= token`).
- SQLite has one writer at a time: a counter (`sync_clock`) ticks in the writer's transaction,
  so stamps follow the commits, and a token is the counter as the read began (`stamp > token`).
The token is read before the rows, carried by the cursor through the pages of one sync, and
answered as the list's `sync_token`. A change committed during a sync is returned by that sync
or the next, never lost; some rows may come twice (the app upserts by id).

Rows deleted outright leave a tombstone in `sync_tombstones` (itself stamped the same way), so
a sync also answers the ids that were removed. Tombstones are kept `HORIZON_DAYS`; an older
token is answered 410 (read the list in full again).
"""

import base64
import binascii
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

import orjson
from fastapi import Depends, Query
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Integer,
    MetaData,
    String,
    Table,
    delete,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Field, Session

from common.clock import utcnow
from common.db import UTCDateTime
from common.problem_codes import Code
from common.problems import Gone, invalid

STAMP = "sync_stamp"
HORIZON_DAYS = 90
TOKEN_PATTERN = "^[A-Za-z0-9_-]+$"


class SyncLog:
    """The tables sync needs in one service's database: the SQLite counter and the tombstones."""

    def __init__(self, metadata: MetaData) -> None:
        self.clock = Table(
            "sync_clock",
            metadata,
            Column("id", Integer, primary_key=True, autoincrement=False),
            Column("tick", BigInteger, nullable=False),
            comment="SQLite's change counter; PostgreSQL stamps transaction ids instead.",
        )
        self.tombstones = Table(
            "sync_tombstones",
            metadata,
            Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
            Column("collection", String(40), nullable=False),
            Column("row_id", Integer, nullable=False),
            Column("club_id", Integer, nullable=True, index=True),
            Column("removed_at", UTCDateTime, nullable=False),
            Column(STAMP, BigInteger, nullable=True, index=True),
        )

    def tombstone(self, session: Session, collection: str, row_id: int, club_id: int) -> None:
        """Records, in the deleting transaction, that a row left its collection; drops the
        tombstones past the horizon on the way (no token may ask for them any more)."""
        table = self.tombstones
        session.execute(
            insert(table).values(
                collection=collection, row_id=row_id, club_id=club_id, removed_at=utcnow()
            )
        )
        session.execute(delete(table).where(table.c.removed_at < utcnow() - _horizon()))

    def removed(
        self, session: Session, since: "Token", *, collection: str, club_id: int
    ) -> list[int]:
        """The ids of the club's rows of `collection` deleted after `since`."""
        table = self.tombstones
        rows = session.execute(
            select(table.c.row_id)
            .where(
                table.c.collection == collection,
                table.c.club_id == club_id,
                since.changed(table.c[STAMP]),
            )
            .order_by(table.c.row_id)
        )
        return sorted({row for (row,) in rows})


@dataclass(frozen=True)
class Token:
    """A point in a database's changes: what a sync has seen."""

    value: int
    dialect: str
    issued: float

    def changed(self, stamp: Any) -> ColumnElement[bool]:
        """The rows stamped after this token."""
        column: ColumnElement[Any] = stamp
        return column >= self.value if self.dialect == "postgresql" else column > self.value

    def encode(self) -> str:
        raw = orjson.dumps({"x": self.value, "d": self.dialect[0], "t": int(self.issued)})
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def now(session: Session) -> Token:
    """The token of what is committed now: read it before the rows it stands for."""
    connection = session.connection()
    dialect = connection.dialect.name
    if dialect == "postgresql":
        query = "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint"
    else:
        query = "SELECT tick FROM sync_clock WHERE id = 1"
    value = connection.execute(text(query)).scalar()
    return Token(int(value or 0), dialect, utcnow().timestamp())


def decode(value: str, field: str = "changed_since") -> Token:
    """A token a client sends back: 422 when it is not one, 410 when it is too old to serve."""
    try:
        body = orjson.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
        dialect = {"p": "postgresql", "s": "sqlite"}[body["d"]]
        token = Token(int(body["x"]), dialect, float(body["t"]))
    except (ValueError, TypeError, KeyError, binascii.Error, orjson.JSONDecodeError):
        reason = "is not a sync token: pass the sync_token of a list"
        raise invalid(field, reason, "query", code=Code.INVALID_SYNC_TOKEN) from None
    if token.issued < (utcnow() - _horizon()).timestamp():
        raise Gone(
            f"The sync token is older than {HORIZON_DAYS} days, beyond what is kept of deletions: "
            "read the list in full (without changed_since) and sync from its new token.",
            code=Code.SYNC_TOKEN_EXPIRED,
        )
    return token


def _horizon() -> timedelta:
    return timedelta(days=HORIZON_DAYS)


def changed_since(
    changed_since: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=200,
            pattern=TOKEN_PATTERN,
            description="The `sync_token` of an earlier read of this list: only the rows that "
            "changed after it (new, updated, ended), and in `removed` the ids deleted. A change "
            "committed during a sync comes in that sync or the next, never lost; a row may come "
            f"twice (upsert by id). A token older than {HORIZON_DAYS} days is answered 410.",
        ),
    ] = None,
) -> Token | None:
    return decode(changed_since) if changed_since is not None else None


ChangedSince = Annotated[Token | None, Depends(changed_since)]


def install_triggers(connection: Connection) -> None:
    """Stamps every change of every table of the database that has a `sync_stamp` column.

    Run after each migration (idempotent): SQLite's batch migrations rebuild tables, and a
    rebuilt table has lost its triggers."""
    inspector = inspect(connection)
    names = inspector.get_table_names()
    if "sync_clock" not in names:
        return  # a history migrated to a revision before sync
    tables = [name for name in names if STAMP in {c["name"] for c in inspector.get_columns(name)}]
    if connection.dialect.name == "postgresql":
        connection.execute(text(_PG_FUNCTION))
        for table in tables:
            connection.execute(text(f"DROP TRIGGER IF EXISTS {table}_sync_stamp ON {table}"))
            connection.execute(text(_PG_TRIGGER.format(table=table)))
        return
    connection.execute(text("INSERT INTO sync_clock (id, tick) SELECT 1, 0 WHERE NOT EXISTS "
                            "(SELECT 1 FROM sync_clock WHERE id = 1)"))  # fmt: skip
    for table in tables:
        for event in ("INSERT", "UPDATE"):
            connection.execute(text(_SQLITE_TRIGGER.format(table=table, event=event)))


_PG_FUNCTION = """
CREATE OR REPLACE FUNCTION ishc_sync_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.sync_stamp := pg_current_xact_id()::text::bigint;
    RETURN NEW;
END $$
"""
_PG_TRIGGER = """
CREATE TRIGGER {table}_sync_stamp BEFORE INSERT OR UPDATE ON {table}
FOR EACH ROW EXECUTE FUNCTION ishc_sync_stamp()
"""
# The inner UPDATE does not fire the trigger again: SQLite's recursive_triggers is off.
_SQLITE_TRIGGER = """
CREATE TRIGGER IF NOT EXISTS {table}_sync_{event} AFTER {event} ON {table}
BEGIN
    UPDATE sync_clock SET tick = tick + 1 WHERE id = 1;
    UPDATE {table} SET sync_stamp = (SELECT tick FROM sync_clock WHERE id = 1)
    WHERE rowid = NEW.rowid;
END
"""


def stamp_field() -> Any:
    """A synced table's `sync_stamp` column: written by the database's triggers only."""
    return Field(default=None, sa_type=BigInteger, index=True)
