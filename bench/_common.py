"""Helpers shared by the benchmarks: progress output, their databases and their platform."""

import os
import re
import secrets
import sys
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO, TypeVar

import httpx
import psycopg
from psycopg import sql
from sqlalchemy.engine import Connection, ExecutionContext, make_url
from sqlalchemy.engine.interfaces import DBAPICursor
from sqlmodel import Session

from tools.stack import FACTORIES, Stack, free_port

COMPONENTS = tuple(FACTORIES)
"""The platform's components, one database each: the gateway and the three services."""
DEFAULT_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"
REQUEST_TIMEOUT = 60.0
"""Seconds an admin's call may take: the slowest national reports take several."""
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


def load_average() -> str:
    """The machine's load (1, 5, 15 min): on a shared 2-core box it explains noisy figures."""
    try:
        return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "load average unknown"


@dataclass
class GenerationStats:
    """What a data generator loaded: rows per table, seconds per step."""

    rows: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def describe(self) -> str:
        return ", ".join(f"{count:,} {table}" for table, count in self.rows.items())


# --- databases -------------------------------------------------------------------------------


def libpq_url(url: str) -> str:
    """A URL psycopg accepts, from a SQLAlchemy one (`postgresql+psycopg://`)."""
    return re.sub(r"^postgres(ql)?(\+\w+)?://", "postgresql://", url)


def database_url(server_url: str, database: str) -> str:
    """The URL of another database on the same server, as `postgresql://...`."""
    url = make_url(libpq_url(server_url)).set(database=database)
    return url.render_as_string(hide_password=False)


def database_urls(server_url: str, names: Mapping[str, str]) -> dict[str, str]:
    """Each component's database URL on the server, from its database name."""
    return {component: database_url(server_url, name) for component, name in names.items()}


def check_name(database: str) -> str:
    if not _SAFE_NAME.match(database):
        raise ValueError(f"unsafe database name {database!r}")
    return database


def component_databases(prefix: str) -> dict[str, str]:
    """`PREFIX_<component>` for each component; ValueError when a name would be unsafe."""
    return {component: check_name(f"{prefix}_{component}") for component in COMPONENTS}


def sqlite_urls(directory: Path) -> dict[str, str]:
    """One SQLite database per component in `directory`."""
    return {component: f"sqlite:///{directory / f'{component}.db'}" for component in COMPONENTS}


def one_row(cursor: psycopg.Cursor[RowT]) -> RowT:
    """The row of a query that always answers one (a count): psycopg types it optional."""
    row = cursor.fetchone()
    assert row is not None, "the query answered no row"
    return row


def table_rows(url: str, table: str) -> int:
    """Rows in `table`, 0 when the table does not exist yet."""
    with psycopg.connect(libpq_url(url), connect_timeout=5) as conn:
        # Two statements: a count of a missing table fails when parsed, whatever guards it.
        if one_row(conn.execute("SELECT to_regclass(%s)", (table,)))[0] is None:
            return 0
        count = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
        return int(one_row(conn.execute(count))[0])


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


def recreate_databases(
    server_url: str, names: Mapping[str, str], keep: Collection[str] = ()
) -> None:
    """Drops and creates each component's database, but those of the components in `keep`."""
    for component, name in names.items():
        if component not in keep:
            progress(f"creating database {name} for {component}")
            recreate_database(server_url, name)


# --- the platform ----------------------------------------------------------------------------


def make_stack(urls: Mapping[str, str], var_dir: Path, token_minutes: int = 600) -> Stack:
    """A platform on these databases (one per component), on free ports, neither migrated nor
    started. Its admin's one token lasts `token_minutes`: it must outlive the whole run, however
    long the slow calls take."""
    return Stack(
        database_urls=dict(urls),
        ports={component: free_port() for component in urls},
        var_dir=var_dir,
        admin_password=secrets.token_urlsafe(16),
        extra_env={"GATEWAY_PERSON_TOKEN_MINUTES": str(token_minutes)},
    )


def migrated_stack(urls: Mapping[str, str], var_dir: Path) -> Stack:
    """`make_stack`, its databases migrated."""
    stack = make_stack(urls, var_dir)
    progress("migrating the databases")
    stack.migrate()
    return stack


def get_token(stack: Stack, username: str = "admin", password: str | None = None) -> str:
    """A person's token from the bench's own platform: its admin's unless another is named."""
    response = httpx.post(
        stack.gateway_url + "/auth/token",
        data={
            "grant_type": "password",
            "username": username,
            "password": stack.admin_password if password is None else password,
        },
        timeout=30.0,
    )
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


def admin_client(stack: Stack, timeout: float = REQUEST_TIMEOUT) -> httpx.Client:
    """A client of the platform's gateway with an admin token."""
    headers = {"Authorization": f"Bearer {get_token(stack)}"}
    return httpx.Client(base_url=stack.gateway_url, headers=headers, timeout=timeout)


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
