"""Helpers shared by the benchmarks: progress output and PostgreSQL database handling."""

import re
import secrets
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO, TypeVar

import httpx
import psycopg
from psycopg import sql
from sqlalchemy.engine import Connection, ExecutionContext, make_url
from sqlalchemy.engine.interfaces import DBAPICursor
from sqlmodel import Session

from tools.stack import Stack, free_port

_SAFE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
RowT = TypeVar("RowT")
Parameters = Sequence[Any] | Mapping[str, Any]
"""A statement's parameters as the DBAPI takes them (a row, a mapping, or many of either)."""


def progress(message: str) -> None:
    """A timestamped progress line on stdout."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


class ProgressBar:
    """A bar on stderr: redrawn in place on a terminal, a line every 10 % otherwise."""

    def __init__(self, label: str, total: int, unit: str, stream: TextIO | None = None) -> None:
        self.label = label
        self.total = max(total, 1)
        self.unit = unit
        self.stream = stream or sys.stderr
        self.interactive = self.stream.isatty()
        self.started = time.monotonic()
        self.done = 0
        self.extra = ""
        self._last_draw = 0.0
        self._last_decile = -1

    def update(self, done: int, extra: str = "") -> None:
        self.done = min(done, self.total)
        self.extra = extra
        now = time.monotonic()
        if self.interactive:
            if now - self._last_draw >= 0.2 or self.done == self.total:
                self._last_draw = now
                self.stream.write("\r" + self._line(now))
                self.stream.flush()
            return
        decile = self.done * 10 // self.total
        if decile != self._last_decile:
            self._last_decile = decile
            self.stream.write(self._line(now) + "\n")
            self.stream.flush()

    def close(self) -> None:
        self.update(self.total, self.extra)
        if self.interactive:
            self.stream.write("\n")
            self.stream.flush()

    def _line(self, now: float) -> str:
        share = self.done / self.total
        filled = int(share * 30)
        elapsed = now - self.started
        eta = elapsed / share - elapsed if share > 0 else 0.0
        bar = "#" * filled + "-" * (30 - filled)
        extra = f"  {self.extra}" if self.extra else ""
        return (
            f"{self.label} [{bar}] {share * 100:5.1f} %  {self.done:,}/{self.total:,} {self.unit}"
            f"  {elapsed:5.1f} s, eta {eta:5.1f} s{extra}"
        )


def libpq_url(url: str) -> str:
    """A URL psycopg accepts, from a SQLAlchemy one (`postgresql+psycopg://`)."""
    return re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql://", url)


def database_url(server_url: str, database: str) -> str:
    """The URL of another database on the same server, as `postgresql://...`."""
    url = make_url(libpq_url(server_url)).set(database=database)
    return url.render_as_string(hide_password=False)


def check_name(database: str) -> str:
    if not _SAFE_NAME.match(database):
        raise ValueError(f"unsafe database name {database!r}")
    return database


def one_row(cursor: psycopg.Cursor[RowT]) -> RowT:
    """The row of a query that always answers one (a count): psycopg types it optional."""
    row = cursor.fetchone()
    assert row is not None, "the query answered no row"
    return row


def database_exists(server_url: str, database: str) -> bool:
    with psycopg.connect(libpq_url(server_url), autocommit=True, connect_timeout=5) as conn:
        row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone()
    return row is not None


def recreate_database(server_url: str, database: str) -> None:
    """Drops (closing its connections) and creates one database; only names we chose."""
    name = sql.Identifier(check_name(database))
    with psycopg.connect(libpq_url(server_url), autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(name))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(name))


def migrated_stack(urls: Mapping[str, str], var_dir: Path, token_minutes: int = 600) -> Stack:
    """A platform on these databases (one per component), migrated, not started yet. Its
    admin's one token lasts `token_minutes`: it must outlive the whole run, however long the
    slow calls take."""
    stack = Stack(
        database_urls=dict(urls),
        ports={component: free_port() for component in urls},
        var_dir=var_dir,
        admin_password=secrets.token_urlsafe(16),
        extra_env={"GATEWAY_PERSON_TOKEN_MINUTES": str(token_minutes)},
    )
    progress("migrating the databases")
    stack.migrate()
    return stack


def get_token(stack: Stack) -> str:
    """An admin token from the bench's own platform."""
    response = httpx.post(
        stack.gateway_url + "/auth/token",
        data={"grant_type": "password", "username": "admin", "password": stack.admin_password},
        timeout=30.0,
    )
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


def explain_endpoints(url: str, endpoints: list[tuple[str, Callable[[Session], object]]]) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) of every statement each endpoint's own code issues.

    Each function is run in-process on a session of `url` while its SQL is captured, so the
    plans shown are those of the current service code, not of a copy of its queries.
    """
    from sqlalchemy import event

    from common.db import make_engine, normalise_url

    engine = make_engine(normalise_url(url))
    with engine.connect():
        pass  # the dialect's own first queries are not the endpoints'
    captured: list[tuple[str, Parameters]] = []

    def capture(
        _conn: Connection,
        _cursor: DBAPICursor,
        statement: str,
        parameters: Parameters,
        _context: ExecutionContext | None,
        _many: bool,
    ) -> None:
        captured.append((statement, parameters))

    try:
        for title, run in endpoints:
            event.listen(engine, "before_cursor_execute", capture)
            try:
                with Session(engine) as session:
                    run(session)
            finally:
                event.remove(engine, "before_cursor_execute", capture)
            statements, captured[:] = list(captured), []
            print(f"\n===== {title}: {len(statements)} statement(s)")
            with engine.connect() as conn:
                for number, (statement, parameters) in enumerate(statements, start=1):
                    # Lists of ids make parameters pages long; their start is enough.
                    shown = str(parameters)
                    shown = shown if len(shown) <= 300 else shown[:300] + " …"
                    print(f"\n--- statement {number}:\n{statement}\n--- parameters: {shown}")
                    rows = conn.exec_driver_sql(
                        "EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters
                    ).fetchall()
                    print("\n".join(row[0] for row in rows))
    finally:
        engine.dispose()
