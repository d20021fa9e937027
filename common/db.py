"""Database plumbing: one engine per component, one session per request, one naming convention."""

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated, Any, Protocol
from weakref import WeakKeyDictionary

import orjson
from fastapi import Depends, Request
from sqlalchemy import (
    Column,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    Table,
    TypeDecorator,
    event,
    text,
)
from sqlalchemy.dialects.postgresql import Insert as pg_insert_type
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import Insert as sqlite_insert_type
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Dialect, Engine, make_url
from sqlalchemy.orm import registry
from sqlmodel import Session, create_engine

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A moment stored with its zone and always read back as aware UTC.

    SQLite drops the offset on the way in, so naive values read back are UTC by construction.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime: use an aware UTC moment")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Identified(Protocol):
    @property
    def id(self) -> int | None: ...


def id_of(row: Identified) -> int:
    """The id of a row that is in the database: read from it, or added and flushed.

    The models type `id` as optional because a new row has none until it is flushed; a row
    without one here is a bug, stopped at once instead of written as a NULL reference.
    """
    if row.id is None:
        raise RuntimeError(f"{type(row).__name__} has no id: it was never flushed")
    return row.id


ConflictInsert = pg_insert_type | sqlite_insert_type
"""An INSERT that says what a conflict does (`on_conflict_do_nothing` / `_do_update`)."""


def conflict_insert(bind: Session | Connection, table: Table) -> ConflictInsert:
    """An INSERT into `table` in the dialect of `bind` (PostgreSQL or SQLite: both take
    `ON CONFLICT`), for a write that must be one atomic statement across replicas."""
    dialect = bind.get_bind().dialect.name if isinstance(bind, Session) else bind.dialect.name
    return pg_insert(table) if dialect == "postgresql" else sqlite_insert(table)


def references(
    target: str,
    constraint: str,
    *,
    column_type: Any = Integer,
    nullable: bool = False,
    index: bool = False,
) -> Column[Any]:
    """A column referring to `target` (`table.column`), its constraint named `constraint` as
    the migrations name it."""
    return Column(column_type, ForeignKey(target, name=constraint), nullable=nullable, index=index)


def own_registry() -> registry:
    """A registry with metadata of its own, for a component's declarative base
    (`class LoansBase(SQLModel, registry=own_registry())`): its tables stay its own."""
    return registry(metadata=MetaData(naming_convention=NAMING_CONVENTION))


SQLITE_BUSY_TIMEOUT_MS = 8_000
"""How long a SQLite transaction waits for the write lock (below the gateway's 10 s)."""
READS_ONLY = "ishc_reads_only"
"""Execution option of an engine whose transactions only read (see `reader`)."""


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # The driver must not open transactions itself: `_sqlite_begin` opens each one, so that a
    # transaction that may write holds the write lock from its first statement.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    # In WAL mode a commit then writes the log without waiting for the disk; a power cut may
    # lose the last commits, never corrupt the file (the embedded default is no production).
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    """SQLite: a transaction that may write takes the write lock as it begins (`IMMEDIATE`).

    A deferred one that read first and then wrote would need to upgrade its lock while another
    writer holds it, and SQLite answers that at once with "database is locked", however long
    the busy timeout: so every transaction writes-ready, except a reader's, which never writes.
    """
    reads_only = connection.get_execution_options().get(READS_ONLY, False)
    # A reader that tried to write would be the upgrade again: SQLite refuses it outright.
    connection.exec_driver_sql(f"PRAGMA query_only={int(reads_only)}")
    connection.exec_driver_sql("BEGIN" if reads_only else "BEGIN IMMEDIATE")


_readers: WeakKeyDictionary[Engine, Engine] = WeakKeyDictionary()


def reader(engine: Engine) -> Engine:
    """The engine for transactions that only read: on SQLite they take no write lock, so they
    never wait for a writer (WAL lets them read beside it); on PostgreSQL the same engine."""
    found = _readers.get(engine)
    if found is None:
        found = _readers[engine] = engine.execution_options(**{READS_ONLY: True})
    return found


def _json_text(value: Any) -> str:
    # JSON columns hold whole documents (a bank posting's event lists ten thousand loans):
    # orjson writes them ten times faster than the standard library.
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


class EngineOptions(Protocol):
    """The settings of a process's connections (`ComponentSettings` has them)."""

    @property
    def db_pool_size(self) -> int: ...
    @property
    def db_max_overflow(self) -> int: ...
    @property
    def db_pool_timeout_seconds(self) -> float: ...
    @property
    def db_connect_timeout_seconds(self) -> int: ...
    @property
    def db_pgbouncer(self) -> bool: ...
    @property
    def report_database_url(self) -> str: ...


def make_engine(url: str, options: EngineOptions | None = None) -> Engine:
    """An engine tuned for the backend: SQLite gets foreign keys, WAL, a busy timeout and the
    write lock taken as a transaction begins; PostgreSQL the pool `options` say (defaults for
    the command-line tools). Statements' values never appear in its errors (they may be
    personal data, and errors are logged)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            from pathlib import Path

            Path(database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False},
            json_serializer=_json_text,
            hide_parameters=True,
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    connect_args: dict[str, Any] = {
        "connect_timeout": options.db_connect_timeout_seconds if options else 3
    }
    if options is not None and options.db_pgbouncer:
        connect_args["prepare_threshold"] = None  # psycopg: never prepare on the server
    return create_engine(
        url,
        pool_size=options.db_pool_size if options else 10,
        max_overflow=options.db_max_overflow if options else 20,
        pool_timeout=options.db_pool_timeout_seconds if options else 30.0,
        pool_pre_ping=True,
        connect_args=connect_args,
        json_serializer=_json_text,
        hide_parameters=True,
    )


def report_engine(options: EngineOptions) -> Engine | None:
    """The engine of the reports' read replica, if one is configured."""
    if not options.report_database_url:
        return None
    return make_engine(normalise_url(options.report_database_url), options)


def normalise_url(url: str) -> str:
    """Accept `postgresql://` URLs and use the psycopg 3 driver for them."""
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def get_session(request: Request) -> Iterator[Session]:
    """One session per request, committed once after the route returns; a read's session
    takes no write lock on SQLite (`reader`).

    Declared with `scope="function"` below so the commit happens before the response is sent:
    a commit that fails becomes an error answer, never a success the database does not hold.
    """
    engine: Engine = request.app.state.engine
    yield from _committed(reader(engine) if request.method in READ_METHODS else engine)


def get_writing_session(request: Request) -> Iterator[Session]:
    """As `get_session`, writing whatever the method: for the few GETs that change something
    because a standard says they are GETs (the OAuth login page issues codes, logout ends a
    session)."""
    yield from _committed(request.app.state.engine)


def _committed(engine: Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def get_report_session(request: Request) -> Iterator[Session]:
    """A report's session: read-only, on the reports' read replica when one is configured
    (`<PREFIX>_REPORT_DATABASE_URL`), else on the component's database."""
    engine: Engine = getattr(request.app.state, "report_engine", None) or request.app.state.engine
    yield from _committed(reader(engine))


SessionDep = Annotated[Session, Depends(get_session, scope="function")]
ReportSessionDep = Annotated[Session, Depends(get_report_session, scope="function")]
WritingSessionDep = Annotated[Session, Depends(get_writing_session, scope="function")]


def tune_for_report(session: Session, timeout_seconds: float) -> bool:
    """Sets this transaction up for a large read-only report on PostgreSQL (True; SQLite:
    nothing, False): no JIT (compiling the per-club and per-loan plans took longer than running
    them) and a statement timeout, so a report nobody waits for any more (the caller gave up,
    the gateway answered 504) stops using the database."""
    if session.get_bind().dialect.name != "postgresql":
        return False
    session.execute(text("SET LOCAL jit = off"))
    if timeout_seconds > 0:
        session.execute(text(f"SET LOCAL statement_timeout = {int(timeout_seconds * 1000)}"))
    return True


_LZ4_SUPPORTED = text(
    "SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'"
)
_lz4: WeakKeyDictionary[Engine, bool] = WeakKeyDictionary()
_LZ4_SET = "lz4_set_in"
"""`Session.info` key: the transaction `prefer_lz4` has set already."""


def prefer_lz4(session: Session) -> None:
    """Large values compressed with lz4 for the rest of the transaction, where the server has
    it (PostgreSQL; SQLite compresses nothing).

    PostgreSQL's default (pglz) stores a bank batch's answer and events, megabytes of JSON, two
    to three times slower (docs/benchmarks.md, "Figures behind the code").
    """
    connection = session.connection()
    transaction = session.get_transaction()
    if connection.dialect.name != "postgresql" or session.info.get(_LZ4_SET) is transaction:
        return  # nothing to do, or done already in this transaction
    supported = _lz4.get(connection.engine)
    if supported is None:
        supported = _lz4[connection.engine] = bool(connection.execute(_LZ4_SUPPORTED).scalar())
    if supported:
        connection.execute(text("SET LOCAL default_toast_compression = lz4"))
    session.info[_LZ4_SET] = transaction


def report_timeout(request: Request) -> float:
    return float(request.app.state.settings.report_statement_timeout_seconds)
